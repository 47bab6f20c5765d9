import OpenAPIRuntime

/// The body of `GET /v1/events`: a subscription's events that pass the filter, as
/// Server-Sent Events, with a comment when the hub asks for a keep-alive. A subscriber dropped
/// for falling behind gets a last `dropped` event, then the end of the stream.
///
/// Pulled, not pushed: the connection asks for the next chunk when it can write one, and gets
/// every event queued since as one write, at most one every ``chunkInterval``. A client that stops reading costs nothing but its
/// place in the hub's bounded mailbox (no task polls on its behalf), until the hub drops it.
enum EventStreamBody {
    static let droppedNote = Array(
        "event: dropped\ndata: {\"reason\":\"this client fell behind by more than the stream buffers; reconnect with Last-Event-ID\"}\n\n"
            .utf8)

    /// The shortest time between two chunks of live events.
    static let chunkInterval = Duration.milliseconds(50)

    static func make(_ subscription: EventHub.Subscription, filter: EventFilter) -> HTTPBody {
        let reader = Reader(subscription, filter: filter)
        let chunks = AsyncStream<ArraySlice<UInt8>>(unfolding: { await reader.next() })
        return HTTPBody(chunks, length: .unknown, iterationBehavior: .single)
    }

    /// The stream's state, advanced by `AsyncStream(unfolding:)`, which never calls it twice at once.
    private final class Reader: @unchecked Sendable {
        private let subscription: EventHub.Subscription
        private let filter: EventFilter
        private var opened = false
        private var backlog: ArraySlice<ControlEvent>
        private var ended = false
        /// When the last chunk of live events was handed out.
        private var lastChunk: ContinuousClock.Instant?

        init(_ subscription: EventHub.Subscription, filter: EventFilter) {
            self.subscription = subscription
            self.filter = filter
            self.backlog = subscription.backlog[...]
        }

        /// The connection went away without cancelling a wait: the hub forgets the mailbox at its next post.
        deinit { subscription.live.close() }

        /// The next chunk to write: every event queued since the last one, as one write.
        func next() async -> ArraySlice<UInt8>? {
            if !opened {
                // An opening comment: the client sees the stream is up before the first event.
                opened = true
                return ArraySlice(": volley events\n\n".utf8)
            }
            while let event = backlog.popFirst() {
                if filter.admits(event) { return ArraySlice(event.serverSentEvent) }
            }
            guard !ended else { return nil }
            while true {
                // Events that come within the interval wait for the next chunk: a subscriber
                // costs at most one wake-up and one write per interval, however busy the server.
                if let lastChunk {
                    let due = lastChunk.advanced(by: EventStreamBody.chunkInterval)
                    if due > .now { try? await Task.sleep(until: due, clock: .continuous) }
                }
                let items = await subscription.live.take()
                if items.isEmpty { break }
                var chunk: [UInt8] = []
                for item in items {
                    switch item {
                    case .keepAlive: chunk += ": keep-alive\n\n".utf8
                    case .event(let event): if filter.admits(event) { chunk += event.serverSentEvent }
                    }
                }
                if !chunk.isEmpty {
                    lastChunk = .now
                    return chunk[...]
                }
            }
            ended = true
            return subscription.live.wasDropped ? ArraySlice(droppedNote) : nil
        }
    }
}
