import VolleySystem

/// One entry per board for `GET /v1/clients`: by MAC address where the neighbour table knew
/// it, else by client address; first and last seen, what it fetched with what outcome, and
/// its last error.
///
/// Bounded: at most `capacity` boards (the least recently seen go first) and the last
/// `fetchesKept` fetches of each; a board not seen for `expirySeconds` is forgotten.
struct BoardTable: Sendable {
    /// One ended transfer.
    struct Fetch: Sendable {
        var file: String
        var outcome: String
        var reason: String?
        var bytes: UInt64
        var durationSeconds: Double
        /// When it ended, in milliseconds since the epoch.
        var epochMilliseconds: Int64
    }

    /// One board.
    struct Board: Sendable {
        /// Its MAC address when known, else its IP address: what it is listed by.
        var key: String
        var mac: String?
        /// The address it last fetched from.
        var address: String
        var firstSeen: Int64
        var lastSeen: Int64
        var lastSeenMilliseconds: UInt64
        var fetches: [Fetch] = []
        var lastError: String?
    }

    let capacity: Int
    let fetchesKept: Int
    let expirySeconds: UInt64
    private var boards: [String: Board] = [:]
    /// The MAC address last seen from each client address, so that an event whose MAC the
    /// neighbour table no longer has still counts for the board it came from.
    private var macOfAddress: [String: String] = [:]

    init(capacity: Int = 4096, fetchesKept: Int = 32, expirySeconds: UInt64 = 3600) {
        self.capacity = max(1, capacity)
        self.fetchesKept = max(1, fetchesKept)
        self.expirySeconds = expirySeconds
    }

    /// The key of the board `event` belongs to.
    func key(of event: ControlEvent) -> String {
        event.mac ?? macOfAddress[event.clientAddress] ?? event.clientAddress
    }

    /// Notes `event`, seen at `now` (monotonic milliseconds).
    mutating func record(_ event: ControlEvent, now: UInt64) {
        let address = event.clientAddress
        if let mac = event.mac, macOfAddress[address] != mac {
            if macOfAddress.count >= capacity * 2 { macOfAddress.removeAll(keepingCapacity: true) }
            macOfAddress[address] = mac
            // The board was listed by its address until its MAC was known: it moves.
            if var known = boards.removeValue(forKey: address), boards[mac] == nil {
                (known.key, known.mac) = (mac, mac)
                boards[mac] = known
            }
        }
        let key = key(of: event)
        if boards[key] == nil {
            if boards.count >= capacity { evictLeastRecentlySeen() }
            boards[key] = Board(
                key: key, mac: key == address ? nil : key, address: address, firstSeen: event.epochMilliseconds,
                lastSeen: event.epochMilliseconds, lastSeenMilliseconds: now)
        }
        var board = boards[key]!
        board.address = address
        board.lastSeen = event.epochMilliseconds
        board.lastSeenMilliseconds = now
        if let report = event.report {
            let reason = report.outcome.isDelivered ? nil : report.outcome.description
            board.fetches.append(
                Fetch(
                    file: event.file ?? "", outcome: report.outcome.label, reason: reason, bytes: report.bytesSent,
                    durationSeconds: report.durationSeconds, epochMilliseconds: event.epochMilliseconds))
            if board.fetches.count > fetchesKept { board.fetches.removeFirst(board.fetches.count - fetchesKept) }
            if let reason, report.outcome.label != "size_probe" { board.lastError = "\(event.file ?? ""): \(reason)" }
        } else if let refusal = event.refusal {
            board.lastError = "\(event.file ?? "request"): refused, \(refusal.reason.rawValue)"
        }
        boards[key] = board
    }

    /// Makes room: the least recently seen board goes. A scan, under the hub's lock, only
    /// when a new board arrives at a full table (a few microseconds at 4,096 boards).
    private mutating func evictLeastRecentlySeen() {
        if let oldest = boards.values.min(by: { $0.lastSeenMilliseconds < $1.lastSeenMilliseconds }) { boards[oldest.key] = nil }
    }

    /// The boards seen within the expiry at `now`, by key; forgets the others.
    mutating func current(now: UInt64) -> [Board] {
        let limit = expirySeconds * 1000
        boards = boards.filter { now &- $0.value.lastSeenMilliseconds <= limit }
        return boards.values.sorted { $0.key < $1.key }
    }
}
