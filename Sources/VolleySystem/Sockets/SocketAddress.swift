import Glibc

/// An IPv4 or IPv6 address with a port, stored as the kernel's sockaddr.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// Parses a numeric address ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0" is not supported) and a port.
    public init?(ip: String, port: UInt16) {
        var ip = ip
        if ip.hasPrefix("["), ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            self = .v4(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            self = .v6(v6)
            return
        }
        return nil
    }

    /// Reads an address the kernel wrote into a sockaddr_storage; nil for other families.
    public init?(storage: UnsafeRawPointer) {
        switch Int32(storage.load(as: sa_family_t.self)) {
        case AF_INET: self = .v4(storage.loadUnaligned(as: sockaddr_in.self))
        case AF_INET6: self = .v6(storage.loadUnaligned(as: sockaddr_in6.self))
        default: return nil
        }
    }

    /// IPv4 or IPv6 (a v4-mapped address is IPv6: see ``isV4Mapped``).
    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The port, host byte order.
    public var port: UInt16 {
        get {
            switch self {
            case .v4(let a): UInt16(bigEndian: a.sin_port)
            case .v6(let a): UInt16(bigEndian: a.sin6_port)
            }
        }
        set {
            switch self {
            case .v4(var a):
                a.sin_port = newValue.bigEndian
                self = .v4(a)
            case .v6(var a):
                a.sin6_port = newValue.bigEndian
                self = .v6(a)
            }
        }
    }

    /// The address without the port, e.g. "127.0.0.1" or "::1".
    public var ipString: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(var a): inet_ntop(AF_INET, &a.sin_addr, &buffer, socklen_t(buffer.count))
        case .v6(var a): inet_ntop(AF_INET6, &a.sin6_addr, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address's bytes in network order: 4 for IPv4 (also for a v4-mapped IPv6 address,
    /// so that one rule matches a client however the socket saw it), 16 for IPv6.
    public var addressBytes: [UInt8] {
        switch self {
        case .v4(let a): withUnsafeBytes(of: a.sin_addr) { Array($0) }
        case .v6(let a): withUnsafeBytes(of: a.sin6_addr) { isV4Mapped ? Array($0.suffix(4)) : Array($0) }
        }
    }

    /// "127.0.0.1:69" or "[::1]:69".
    public var description: String {
        switch self {
        case .v4: "\(ipString):\(port)"
        case .v6: "[\(ipString)]:\(port)"
        }
    }

    /// True for 0.0.0.0 and ::.
    public var isWildcard: Bool {
        switch self {
        case .v4(let a): a.sin_addr.s_addr == 0
        case .v6(let a): withUnsafeBytes(of: a.sin6_addr) { $0.allSatisfy { $0 == 0 } }
        }
    }

    /// True for an IPv4 address seen through a dual-stack IPv6 socket (`::ffff:a.b.c.d`).
    public var isV4Mapped: Bool {
        switch self {
        case .v4: false
        case .v6(let a):
            withUnsafeBytes(of: a.sin6_addr) { bytes in
                bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            }
        }
    }

    /// The address as text, with an IPv4 client of a dual-stack socket (`::ffff:a.b.c.d`)
    /// written as the IPv4 address `a.b.c.d` it is: what rules and the neighbour table name.
    public var unmappedIPString: String {
        guard case .v6(let a) = self, isV4Mapped else { return ipString }
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        withUnsafeBytes(of: a.sin6_addr) { bytes in
            withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[12..<16])) }
        }
        return SocketAddress.v4(v4).ipString
    }

    /// This address as a dual-stack IPv6 socket sees it: an IPv4 address becomes `::ffff:a.b.c.d`
    /// (same port); an IPv6 address is returned unchanged.
    public var mappedToIPv6: SocketAddress {
        guard case .v4(let a) = self else { return self }
        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = a.sin_port
        withUnsafeMutableBytes(of: &v6.sin6_addr) { bytes in
            bytes[10] = 0xff
            bytes[11] = 0xff
            withUnsafeBytes(of: a.sin_addr) { bytes.baseAddress!.advanced(by: 12).copyMemory(from: $0.baseAddress!, byteCount: 4) }
        }
        return .v6(v6)
    }

    /// Calls `body` with a pointer to the sockaddr and its length.
    public func withSockaddr<R, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R) throws(E) -> R {
        switch self {
        case .v4(var a):
            return try withUnsafePointer(to: &a) { (p) throws(E) -> R in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (s) throws(E) -> R in
                    try body(s, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var a):
            return try withUnsafePointer(to: &a) { (p) throws(E) -> R in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (s) throws(E) -> R in
                    try body(s, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Copies the sockaddr into `destination` (at least 28 bytes) and returns its length.
    public func write(to destination: UnsafeMutableRawPointer) -> socklen_t {
        withSockaddr { pointer, length in
            destination.copyMemory(from: pointer, byteCount: Int(length))
            return length
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)):
            a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
        case (.v6(let a), .v6(let b)):
            a.sin6_port == b.sin6_port && a.sin6_scope_id == b.sin6_scope_id
                && withUnsafeBytes(of: a.sin6_addr) { x in withUnsafeBytes(of: b.sin6_addr) { y in x.elementsEqual(y) } }
        default:
            false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .v4(let a):
            hasher.combine(a.sin_addr.s_addr)
            hasher.combine(a.sin_port)
        case .v6(let a):
            withUnsafeBytes(of: a.sin6_addr) { hasher.combine(bytes: $0) }
            hasher.combine(a.sin6_port)
        }
    }
}

extension sockaddr_in: @retroactive @unchecked Sendable {}
extension sockaddr_in6: @retroactive @unchecked Sendable {}
