/// Why a datagram could not be decoded as TFTP.
public struct MalformedPacket: Error, Hashable, Sendable, CustomStringConvertible {
    /// A short human text, e.g. "request has no NUL after the file name".
    public var reason: String

    /// Creates an error with a short reason.
    public init(reason: String) {
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}
