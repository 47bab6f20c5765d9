/// Running totals of a server, for status lines and metrics.
public struct TFTPServerStatistics: Hashable, Sendable {
    /// Transfers in flight now.
    public var activeTransfers: Int = 0
    /// Transfers that delivered the whole file.
    public var completedTransfers: Int = 0
    /// Transfers that ended otherwise (timeout, client abort, size probe, error).
    public var endedTransfers: Int = 0
    /// Requests refused with an error (missing file, WRQ, malformed, …).
    public var refusedRequests: Int = 0
    /// Payload bytes sent in DATA blocks, retransmissions included.
    public var bytesSent: UInt64 = 0
    /// Blocks re-sent after a timeout.
    public var retransmittedBlocks: UInt64 = 0

    /// Zero totals.
    public init() {}
}
