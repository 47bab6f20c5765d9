import Foundation
import Glibc
import VolleyReactor

/// Turns the configured `host` into the address to bind.
enum HostAddressResolver {
    /// Resolves `host` (literal, name, or empty for auto-detect) with `port`.
    static func resolve(_ host: String, port: UInt16) throws(TFTPError) -> SocketAddress {
        let trimmed = host.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return autoDetect(port: port) }
        if let literal = SocketAddress(ip: trimmed, port: port) { return literal }
        if let named = lookUp(trimmed, port: port) { return named }
        throw .invalidConfiguration("cannot resolve host \"\(trimmed)\"")
    }

    /// Jumpstarter's rule: the host name's address; if that is loopback or unknown, the
    /// default route's source address; else every IPv4 address.
    static func autoDetect(port: UInt16) -> SocketAddress {
        var name = [CChar](repeating: 0, count: 256)
        if gethostname(&name, name.count - 1) == 0 {
            let hostname = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let address = lookUp(hostname, port: port, family: AF_INET), !isLoopback(address), isLocal(address) {
                return address
            }
        }
        if let address = defaultRouteSourceAddress(port: port) { return address }
        return SocketAddress(ip: "0.0.0.0", port: port)!
    }

    private static func lookUp(_ name: String, port: UInt16, family: Int32 = AF_UNSPEC) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = family
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

    private static func isLoopback(_ address: SocketAddress) -> Bool {
        address.ipString.hasPrefix("127.") || address.ipString == "::1"
    }

    /// Whether an address is assigned to one of this machine's interfaces.
    private static func isLocal(_ address: SocketAddress) -> Bool {
        interfaceAddresses().contains { $0.address.ipString == address.ipString }
    }

    /// The IPv4 address of the interface that carries the default route (/proc/net/route).
    private static func defaultRouteSourceAddress(port: UInt16) -> SocketAddress? {
        guard let table = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return nil }
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count > 2, fields[1] == "00000000" else { continue }
            let interface = String(fields[0])
            if var address = interfaceAddresses().first(where: { $0.name == interface && $0.address.family == AF_INET })?.address {
                address.port = port
                return address
            }
        }
        return nil
    }

    private static func interfaceAddresses() -> [(name: String, address: SocketAddress)] {
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
}
