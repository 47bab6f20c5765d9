import VolleySystem

/// One entry per board (by client address) for `GET /v1/clients`: first and last seen, what
/// it fetched with what outcome, and its last error.
///
/// Bounded: at most `capacity` boards (the least recently seen goes first) and the last
/// `fetchesKept` fetches of each; a board not seen for `expirySeconds` is forgotten.
struct BoardTable: Sendable {
    /// One ended transfer.
    struct Fetch: Sendable {
        var file: String
        var outcome: String
        var reason: String?
        var bytes: UInt64
        var durationSeconds: Double
        var time: String
    }

    /// One board.
    struct Board: Sendable {
        var address: String
        var firstSeen: String
        var lastSeen: String
        var lastSeenMilliseconds: UInt64
        var fetches: [Fetch] = []
        var lastError: String?
    }

    let capacity: Int
    let fetchesKept: Int
    let expirySeconds: UInt64
    private var boards: [String: Board] = [:]

    init(capacity: Int = 4096, fetchesKept: Int = 32, expirySeconds: UInt64 = 3600) {
        self.capacity = max(1, capacity)
        self.fetchesKept = max(1, fetchesKept)
        self.expirySeconds = expirySeconds
    }

    /// Notes `event`, seen at `now` (monotonic milliseconds).
    mutating func record(_ event: ControlEvent, now: UInt64) {
        let address = event.clientAddress
        if boards[address] == nil {
            if boards.count >= capacity, let oldest = boards.values.min(by: { $0.lastSeenMilliseconds < $1.lastSeenMilliseconds }) {
                boards[oldest.address] = nil
            }
            boards[address] = Board(address: address, firstSeen: event.time, lastSeen: event.time, lastSeenMilliseconds: now)
        }
        var board = boards[address]!
        board.lastSeen = event.time
        board.lastSeenMilliseconds = now
        if let report = event.report {
            let reason = report.outcome.isDelivered ? nil : report.outcome.description
            board.fetches.append(
                Fetch(
                    file: event.file ?? "", outcome: report.outcome.label, reason: reason, bytes: report.bytesSent,
                    durationSeconds: report.durationSeconds, time: event.time))
            if board.fetches.count > fetchesKept { board.fetches.removeFirst(board.fetches.count - fetchesKept) }
            if let reason, report.outcome.label != "size_probe" { board.lastError = "\(event.file ?? ""): \(reason)" }
        } else if let refusal = event.refusal {
            board.lastError = "\(event.file ?? "request"): refused, \(refusal.reason.rawValue)"
        }
        boards[address] = board
    }

    /// The boards seen within the expiry at `now`, by address; forgets the others.
    mutating func current(now: UInt64) -> [Board] {
        let limit = expirySeconds * 1000
        boards = boards.filter { now &- $0.value.lastSeenMilliseconds <= limit }
        return boards.values.sorted { $0.address < $1.address }
    }
}
