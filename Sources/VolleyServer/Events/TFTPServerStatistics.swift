/// Running totals of a server, for status lines and metrics.
public struct TFTPServerStatistics: Hashable, Sendable {
    /// Transfers in flight now.
    public var activeTransfers: Int = 0
    /// Transfers that delivered the whole file.
    public var completedTransfers: Int = 0
    /// Transfers that ended otherwise (timeout, client abort, size probe, error).
    public var endedTransfers: Int = 0
    /// Requests refused with an error or dropped (missing file, WRQ, malformed, at capacity, …).
    public var refusedRequests: Int = 0
    /// Payload bytes sent in DATA blocks by finished transfers, retransmissions included.
    public var bytesSent: UInt64 = 0
    /// Blocks and OACKs re-sent after a timeout, by finished transfers.
    public var retransmittedBlocks: UInt64 = 0

    /// Zero totals.
    public init() {}

    /// Adds what `event` changes to the totals.
    public mutating func count(_ event: TFTPServerEvent) {
        switch event {
        case .transferStarted:
            activeTransfers += 1
        case .transferFinished(let report):
            activeTransfers -= 1
            if report.outcome.isDelivered { completedTransfers += 1 } else { endedTransfers += 1 }
            bytesSent += report.bytesSent
            retransmittedBlocks += UInt64(report.retransmissions)
        case .requestRefused:
            refusedRequests += 1
        case .transferProgress, .listening, .stoppedAccepting, .reloaded:
            break
        }
    }
}
