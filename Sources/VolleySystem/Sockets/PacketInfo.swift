/// Where a datagram arrived: the local address it was sent to and the interface.
public struct PacketInfo: Hashable, Sendable {
    /// The local address the client sent to (port 0); replies must leave from it.
    public var localAddress: SocketAddress
    /// The interface index the datagram came in on.
    public var interfaceIndex: UInt32

    /// Creates packet info from its parts.
    public init(localAddress: SocketAddress, interfaceIndex: UInt32) {
        self.localAddress = localAddress
        self.interfaceIndex = interfaceIndex
    }
}
