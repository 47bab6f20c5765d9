/// How long to wait for an ACK, how fast to back off, and when to give up.
public struct RetransmissionPolicy: Hashable, Sendable {
    /// The first timeout after a send, and the value restored whenever the client makes progress.
    public var initialTimeoutMilliseconds: Int
    /// The ceiling for the doubling backoff.
    public var maximumTimeoutMilliseconds: Int
    /// After this many unanswered retransmissions in a row, the transfer is abandoned.
    public var maximumRetransmissions: Int

    /// Creates a policy; the defaults give up after about 1+2+4+8+8+8 = 31 s of silence.
    public init(initialTimeoutMilliseconds: Int = 1000, maximumTimeoutMilliseconds: Int = 8000, maximumRetransmissions: Int = 5) {
        self.initialTimeoutMilliseconds = initialTimeoutMilliseconds
        self.maximumTimeoutMilliseconds = maximumTimeoutMilliseconds
        self.maximumRetransmissions = maximumRetransmissions
    }
}
