import Glibc

/// A bound UDP socket shared by reference: a listener and, in single-port mode, every
/// transfer it carries. The descriptor is closed when the last user lets go, so a
/// transfer can never send on a number that was closed and reused.
public final class DatagramSocket: Sendable {
    private let owned: OwnedDescriptor
    /// The address the socket is bound to (the real port after binding port 0).
    public let localAddress: SocketAddress

    /// Takes ownership of a bound socket and reads its local address.
    /// - Throws: ``SystemError`` from `getsockname`; the descriptor is closed then.
    public init(adopting descriptor: consuming OwnedDescriptor) throws(SystemError) {
        localAddress = try UDPSocket.localAddress(of: descriptor.descriptor)
        owned = descriptor
    }

    /// A new socket bound to `address` (see ``UDPSocket/openBound(to:packetInfo:reusePort:)``).
    public static func bound(
        to address: SocketAddress, packetInfo: Bool = false, reusePort: Bool = false
    ) throws(SystemError) -> DatagramSocket {
        try DatagramSocket(adopting: try UDPSocket.openBound(to: address, packetInfo: packetInfo, reusePort: reusePort))
    }

    /// The socket's descriptor, borrowed: valid as long as this object lives.
    public var descriptor: Descriptor { owned.descriptor }
}
