internal import CEpoll
import Glibc

/// Creation and options of non-blocking UDP sockets.
public enum UDPSocket {
    /// A new non-blocking, close-on-exec UDP socket of `family`.
    /// - Throws: ``SystemError``, e.g. `EMFILE` when the process is out of descriptors.
    public static func open(family: AddressFamily) throws(SystemError) -> OwnedDescriptor {
        OwnedDescriptor(
            adopting: try syscall("socket") { socket(family.rawValue, VOLLEY_SOCK_DGRAM | VOLLEY_SOCK_NONBLOCK | VOLLEY_SOCK_CLOEXEC, 0) })
    }

    /// A new socket bound to `address`; for `::` both families are served (IPV6_V6ONLY off), and
    /// a v4-mapped address (`::ffff:a.b.c.d`, an IPv4 client of a dual-stack listener) needs
    /// IPV6_V6ONLY off as well to be bound at all. With `reusePort`, SO_REUSEPORT is set
    /// first: several such sockets of one user can bind the same address, and the kernel
    /// spreads datagrams over them by a hash of the source and destination.
    public static func openBound(
        to address: SocketAddress, packetInfo: Bool = false, reusePort: Bool = false
    ) throws(SystemError) -> OwnedDescriptor {
        let socket = try open(family: address.family)
        let fd = socket.descriptor
        if reusePort { try setOption(fd, SOL_SOCKET, VOLLEY_SO_REUSEPORT, 1, name: "SO_REUSEPORT") }
        if address.family == .ipv6 {
            let dualStack = address.isWildcard || address.isV4Mapped
            try setOption(fd, VOLLEY_IPPROTO_IPV6, IPV6_V6ONLY, dualStack ? 0 : 1, name: "IPV6_V6ONLY")
        }
        if packetInfo { try enablePacketInfo(fd, family: address.family) }
        try bind(fd, to: address)
        return socket
    }

    /// Binds `fd` to `address`.
    public static func bind(_ fd: Descriptor, to address: SocketAddress) throws(SystemError) {
        _ = try address.withSockaddr { pointer, length throws(SystemError) in
            try syscall("bind(\(address))") { Glibc.bind(fd.rawValue, pointer, length) }
        }
    }

    /// Asks the kernel to report each datagram's destination address and interface.
    public static func enablePacketInfo(_ fd: Descriptor, family: AddressFamily) throws(SystemError) {
        if family == .ipv6 {
            try setOption(fd, VOLLEY_IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, name: "IPV6_RECVPKTINFO")
            // IPv4 clients of a dual-stack socket are reported through IP_PKTINFO.
            try? setOption(fd, VOLLEY_IPPROTO_IP, IP_PKTINFO, 1, name: "IP_PKTINFO")
        } else {
            try setOption(fd, VOLLEY_IPPROTO_IP, IP_PKTINFO, 1, name: "IP_PKTINFO")
        }
    }

    /// Sets SO_RCVBUF (the kernel doubles and caps it at net.core.rmem_max).
    public static func setReceiveBufferSize(_ fd: Descriptor, bytes: Int) throws(SystemError) {
        try setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(clamping: bytes), name: "SO_RCVBUF")
    }

    /// Sets SO_SNDBUF.
    public static func setSendBufferSize(_ fd: Descriptor, bytes: Int) throws(SystemError) {
        try setOption(fd, SOL_SOCKET, SO_SNDBUF, Int32(clamping: bytes), name: "SO_SNDBUF")
    }

    /// Makes an inherited descriptor (e.g. from systemd) non-blocking and close-on-exec.
    public static func makeNonBlockingAndCloseOnExec(_ fd: Descriptor) throws(SystemError) {
        let flags = try syscall("fcntl(F_GETFL)") { volley_fcntl_getfl(fd.rawValue) }
        _ = try syscall("fcntl(F_SETFL)") { volley_fcntl_setfl(fd.rawValue, flags | O_NONBLOCK) }
        let fdFlags = try syscall("fcntl(F_GETFD)") { volley_fcntl_getfd(fd.rawValue) }
        _ = try syscall("fcntl(F_SETFD)") { volley_fcntl_setfd(fd.rawValue, fdFlags | FD_CLOEXEC) }
    }

    /// The address `fd` is bound to.
    public static func localAddress(of fd: Descriptor) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                try syscall("getsockname") { getsockname(fd.rawValue, sa, &length) }
            }
        }
        guard let address = withUnsafeBytes(of: &storage, { SocketAddress(storage: $0.baseAddress!) }) else {
            throw SystemError("getsockname", errno: .addressFamilyNotSupported)
        }
        return address
    }

    /// The socket's address family (SO_DOMAIN); nil for one that is neither IPv4 nor IPv6.
    public static func family(of fd: Descriptor) throws(SystemError) -> AddressFamily? {
        var value: Int32 = 0
        var length = socklen_t(4)
        _ = try syscall("getsockopt(SO_DOMAIN)") { getsockopt(fd.rawValue, SOL_SOCKET, SO_DOMAIN, &value, &length) }
        return AddressFamily(rawValue: value)
    }

    static func setOption(_ fd: Descriptor, _ level: Int32, _ option: Int32, _ value: Int32, name: String) throws(SystemError) {
        var value = value
        _ = try syscall("setsockopt(\(name))") { setsockopt(fd.rawValue, level, option, &value, socklen_t(4)) }
    }
}
