/// How a transfer ended.
public enum TransferOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The client acknowledged the last block.
    case delivered
    /// The client read tsize from the OACK and ended with ERROR 8: UEFI's size probe, a normal end.
    case sizeProbe
    /// The client sent an ERROR.
    case abortedByClient(code: UInt16, message: String)
    /// The client stayed silent through this many retransmissions in a row.
    case timedOut(retransmissions: Int)
    /// The server could not go on (a read error, the file changed); the client got ERROR 0.
    case failed(reason: String)
    /// The server stopped while the transfer was in flight.
    case serverStopped

    /// A stable snake_case name for metrics and log metadata (`"delivered"`, `"timed_out"`, …).
    public var label: String {
        switch self {
        case .delivered: "delivered"
        case .sizeProbe: "size_probe"
        case .abortedByClient: "aborted_by_client"
        case .timedOut: "timed_out"
        case .failed: "failed"
        case .serverStopped: "server_stopped"
        }
    }

    /// Whether the whole file reached the client.
    public var isDelivered: Bool { self == .delivered }

    /// The outcome as the transfer's log line ends: `"delivered"`, `"timed out: no answer after 5 retransmissions"`, ….
    public var description: String {
        switch self {
        case .delivered: "delivered"
        case .sizeProbe: "size probe: client read tsize and ended the transfer (normal for UEFI)"
        case .abortedByClient(let code, let message): "aborted by client: error \(code) \(message.debugDescription)"
        case .timedOut(let retransmissions): "timed out: no answer after \(retransmissions) retransmissions"
        case .failed(let reason): "failed: \(reason)"
        case .serverStopped: "stopped: server shutting down"
        }
    }
}
