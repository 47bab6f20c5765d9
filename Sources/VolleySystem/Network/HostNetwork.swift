internal import CEpoll
import Glibc

/// What the host knows about its own network: its name, name lookups, its interfaces'
/// addresses and MTUs, and the interface of the default route.
public enum HostNetwork {
    /// The host name (`gethostname`), or nil.
    public static func hostName() -> String? {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first address `name` resolves to (`getaddrinfo`), with `port`, or nil.
    /// - Parameter family: IPv4, IPv6, or nil for either.
    public static func lookUp(_ name: String, port: UInt16, family: AddressFamily? = nil) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = family?.rawValue ?? AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let sockaddr = entry.pointee.ai_addr, var address = SocketAddress(storage: sockaddr) {
                address.port = port
                return address
            }
            cursor = entry.pointee.ai_next
        }
        return nil
    }

    /// Every address assigned to an interface, with the interface's name.
    public static func interfaceAddresses() -> [(name: String, address: SocketAddress)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found: [(String, SocketAddress)] = []
        var cursor = list
        while let entry = cursor {
            if let sockaddr = entry.pointee.ifa_addr, let address = SocketAddress(storage: sockaddr) {
                found.append((String(cString: entry.pointee.ifa_name), address))
            }
            cursor = entry.pointee.ifa_next
        }
        return found
    }

    /// The name of the interface that carries the IPv4 default route (`/proc/net/route`), or nil.
    public static func defaultRouteInterface() -> String? {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.open("/proc/net/route")
        } catch {
            return nil
        }
        var text: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { chunk.deallocate() }
        while let count = try? FileSystem.read(file.descriptor, into: chunk), count > 0, text.count < 1 << 20 {
            text.append(contentsOf: chunk[..<count])
        }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count > 2, fields[1] == "00000000" { return String(fields[0]) }
        }
        return nil
    }

    /// The MTU of the interface with index `interfaceIndex`, or nil when unknown.
    public static func mtu(ofInterface interfaceIndex: UInt32) -> Int? {
        let value = volley_interface_mtu(interfaceIndex)
        return value > 0 ? Int(value) : nil
    }
}
