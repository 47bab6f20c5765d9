import VolleyReactor
import VolleySystem

/// Why a client did not get the whole file.
enum FailureKind: Hashable, Sendable, Comparable {
    /// `retries` re-sends went unanswered.
    case timeout
    /// A DATA payload differed from the local file, or was longer than the block size or the file.
    case corrupt
    /// The server sent ERROR with this code.
    case error(UInt16)
    /// The run's deadline passed first.
    case deadline
    /// The transfer ended (short block) before the end of the file.
    case short
    /// The OACK was malformed, carried an option not asked for, or a value out of bounds.
    case badOptionAcknowledgement
    /// A socket call failed for this client.
    case socket

    /// The name used in reports: `timeout`, `corrupt`, `error-1`, `deadline`, `short`, `bad-oack`, `socket`.
    var name: String {
        switch self {
        case .timeout: "timeout"
        case .corrupt: "corrupt"
        case .error(let code): "error-\(code)"
        case .deadline: "deadline"
        case .short: "short"
        case .badOptionAcknowledgement: "bad-oack"
        case .socket: "socket"
        }
    }

    static func < (lhs: FailureKind, rhs: FailureKind) -> Bool { lhs.name < rhs.name }
}

/// Where a client is in its transfer.
enum ClientPhase: UInt8 {
    /// Socket open, RRQ not sent yet.
    case waitingToStart
    /// RRQ sent, nothing heard from the server.
    case requested
    /// Receiving DATA from the server's transfer ID.
    case receiving
    /// Finished, successfully or not; the socket is closed.
    case finished
}

/// One simulated boot client: a small struct kept in an array indexed by client id.
struct ClientRecord {
    /// The client's own UDP socket, owned by this record (nil until opened and once closed).
    var descriptor: Descriptor?
    var phase: ClientPhase = .waitingToStart
    /// The server's transfer ID (port of its first reply); 0 until then.
    var serverPort: UInt16 = 0
    /// Negotiated block size.
    var blockSize = 512
    var window = ReceiveWindow(windowSize: 1)
    /// Re-sends since the server last made progress.
    var unansweredRetries = 0
    /// The retransmission timer, re-armed on progress; nil when none is pending.
    var timer: TimerID?
    /// Monotonic nanoseconds of the first RRQ and of the end.
    var startNanoseconds: UInt64 = 0
    var endNanoseconds: UInt64 = 0
    /// Payload bytes received in order and found equal to the local file.
    var bytesVerified: UInt64 = 0
    /// nil while running or after success; the reason after a failure.
    var failure: FailureKind?

    /// True while the client still takes part in the run.
    var isActive: Bool { phase == .requested || phase == .receiving }
}
