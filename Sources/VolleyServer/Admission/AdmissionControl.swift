import TFTPProtocol
import VolleySystem

/// Decides, before any file or socket is opened, whether a read request may start a transfer.
///
/// This is where the server's limits live: the transfer maximum today, per-client limits
/// and rate limits later. Confined to the reactor thread.
struct AdmissionControl {
    /// The most transfers at once; further requests are dropped (clients retry).
    var maximumTransfers: Int
    /// False while draining for shutdown: new requests are dropped.
    var acceptingRequests = true
    /// When the last "at the limit" warning was logged (monotonic ms), to log at most once a second.
    private(set) var lastCapacityWarning: UInt64?

    init(maximumTransfers: Int) {
        self.maximumTransfers = maximumTransfers
    }

    /// The decision for `request` from `client` with `activeTransfers` running.
    mutating func decide(_ request: TFTPRequest, from client: SocketAddress, activeTransfers: Int) -> AdmissionDecision {
        guard acceptingRequests else {
            return .drop(.shuttingDown, detail: "the server is shutting down")
        }
        guard request.transferMode != nil else {
            return .refuse(.unsupportedMode, code: .illegalOperation,
                           message: "Unsupported transfer mode \"\(request.mode)\"",
                           detail: "unsupported mode \(request.mode.debugDescription)")
        }
        guard activeTransfers < maximumTransfers else {
            // Dropped, not refused: boot firmware retries a request but gives up on an error.
            return .drop(.atCapacity, detail: "at the limit of \(maximumTransfers) transfers")
        }
        return .admit
    }

    /// Whether a capacity warning may be logged now (at most one a second).
    mutating func shouldWarnAboutCapacity(now: UInt64) -> Bool {
        if let last = lastCapacityWarning, now &- last < 1000 { return false }
        lastCapacityWarning = now
        return true
    }
}
