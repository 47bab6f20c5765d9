import Synchronization
import VolleyServer
import VolleySystem

/// A transfer in flight: its start event, and how far it had come at its latest progress event.
struct InFlightTransfer: Sendable {
    let started: ControlEvent
    var progress: TransferProgress?
}

/// The server's events for `GET /v1/events`: a bounded ring of the latest ones, to resume
/// from (`Last-Event-ID`), and the subscribers that stream them.
///
/// Called on the reactor thread for every event, it only numbers it, keeps it and hands it
/// to each subscriber's bounded buffer; it never waits. A subscriber whose buffer is full
/// (a consumer that fell behind) is dropped: its stream ends, and the client is told why.
/// Filtering and encoding happen as the client's connection pulls (``EventStreamBody``), each
/// event encoded once for all its subscribers.
public final class EventHub: TFTPServerObserver, Sendable {
    /// What a subscriber's stream carries after its backlog.
    enum Item: Sendable {
        case event(ControlEvent)
        /// Time for an SSE comment: proxies keep the connection, and a client that went away is noticed.
        case keepAlive
    }

    /// One subscription: the events kept after the one it resumes from, then the live ones.
    struct Subscription: Sendable {
        let backlog: [ControlEvent]
        let live: EventMailbox
    }

    private struct State {
        var nextID: UInt64 = 1
        var ring: [ControlEvent] = []
        /// Where the oldest event is in `ring` once it is full.
        var ringStart = 0
        var subscribers: [UInt64: EventMailbox] = [:]
        var nextSubscriber: UInt64 = 0
        /// The transfers in flight, by client address and port.
        var inFlight: [String: InFlightTransfer] = [:]
        var boards = BoardTable()
        /// Set by ``endStreams()``: the control plane is shutting down.
        var ended = false
    }

    private let state = Mutex(State())
    /// How many events are kept to resume from.
    let ringCapacity: Int
    /// How many events a subscriber may have waiting before it is dropped.
    let subscriberBuffer: Int

    /// - Parameters:
    ///   - ringCapacity: events kept for `Last-Event-ID` (the latest 10,000 by default).
    ///   - subscriberBuffer: events a subscriber may fall behind by before it is dropped.
    public init(ringCapacity: Int = 10_000, subscriberBuffer: Int = 4_096) {
        self.ringCapacity = max(1, ringCapacity)
        self.subscriberBuffer = max(1, subscriberBuffer)
    }

    public func serverEvent(_ event: TFTPServerEvent) {
        guard var event = ControlEvent(event) else { return }
        state.withLock { state in
            event.id = state.nextID
            state.nextID += 1
            switch event.kind {
            case .started: state.inFlight[event.client] = InFlightTransfer(started: event)
            case .progress: state.inFlight[event.client]?.progress = event.progress
            case .finished: state.inFlight[event.client] = nil
            case .refused: break
            }
            state.boards.record(event, now: MonotonicClock.milliseconds())
            if state.ring.count < ringCapacity {
                state.ring.append(event)
            } else {
                state.ring[state.ringStart] = event
                state.ringStart = (state.ringStart + 1) % ringCapacity
            }
            Self.hand(.event(event), to: &state)
        }
    }

    /// Asks every stream for a keep-alive comment; called every ``keepAliveSeconds`` by the control plane.
    func sendKeepAlives() {
        state.withLock { Self.hand(.keepAlive, to: &$0) }
    }

    /// How often an idle stream gets a comment.
    static let keepAliveSeconds = 15

    /// Hands `item` to every subscriber's mailbox; forgets those that were full (now dropped) or gone.
    private static func hand(_ item: Item, to state: inout State) {
        var gone: [UInt64] = []
        for (key, subscriber) in state.subscribers {
            switch subscriber.post(item) {
            case .accepted: continue
            case .full, .closed: gone.append(key)
            }
        }
        for key in gone { state.subscribers[key] = nil }
    }

    /// Subscribes: the kept events numbered above `lastID` (none without it), then every new one.
    func subscribe(after lastID: UInt64?) -> Subscription {
        let mailbox = EventMailbox(capacity: subscriberBuffer)
        let backlog = state.withLock { state in
            if state.ended {
                mailbox.close()
            } else {
                state.subscribers[state.nextSubscriber] = mailbox
                state.nextSubscriber += 1
            }
            let ordered = state.ring[state.ringStart...] + state.ring[..<state.ringStart]
            return lastID.map { last in ordered.filter { $0.id > last } } ?? []
        }
        return Subscription(backlog: backlog, live: mailbox)
    }

    /// Ends every stream, and those subscribed later at once: the control plane is shutting
    /// down, and a stream that never ends would hold its graceful shutdown forever.
    public func endStreams() {
        let subscribers = state.withLock { state in
            state.ended = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.close() }
    }

    /// The transfers in flight, oldest first (`GET /v1/transfers`).
    var transfersInFlight: [InFlightTransfer] {
        state.withLock { $0.inFlight.values.sorted { $0.started.id < $1.started.id } }
    }

    /// The boards seen lately, with their transfers in flight (`GET /v1/clients`).
    var boards: [(board: BoardTable.Board, inFlight: [InFlightTransfer])] {
        state.withLock { state in
            var inFlight: [String: [InFlightTransfer]] = [:]
            for transfer in state.inFlight.values { inFlight[state.boards.key(of: transfer.started), default: []].append(transfer) }
            return state.boards.current(now: MonotonicClock.milliseconds()).map { board in
                (board, (inFlight[board.key] ?? []).sorted { $0.started.id < $1.started.id })
            }
        }
    }

    /// Subscribers streaming now.
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
