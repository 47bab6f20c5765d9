import OpenAPIRuntime

/// The body of `GET /v1/events`: a subscription's events that pass the filter, as
/// Server-Sent Events, with a comment every 15 s so that proxies keep the connection and a
/// client that went away is noticed. A subscriber dropped for falling behind gets a last
/// `dropped` event, then the end of the stream.
enum EventStreamBody {
    static let keepAliveSeconds = 15

    static func make(_ subscription: EventHub.Subscription, filter: EventFilter) -> HTTPBody {
        let (chunks, output) = AsyncStream<ArraySlice<UInt8>>.makeStream(bufferingPolicy: .bufferingOldest(64))
        let producer = Task {
            // An opening comment: the client sees the stream is up before the first event.
            output.yield(ArraySlice(": volley events\n\n".utf8))
            for event in subscription.backlog where filter.admits(event) {
                await send(ArraySlice(event.serverSentEvent), to: output)
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(keepAliveSeconds))
                        output.yield(ArraySlice(": keep-alive\n\n".utf8))
                    }
                }
                for await event in subscription.live where filter.admits(event) {
                    await send(ArraySlice(event.serverSentEvent), to: output)
                }
                group.cancelAll()
            }
            if subscription.wasDropped() {
                let note =
                    "event: dropped\ndata: {\"reason\":\"this client fell behind by more than the stream buffers; reconnect with Last-Event-ID\"}\n\n"
                output.yield(ArraySlice(note.utf8))
            }
            output.finish()
        }
        output.onTermination = { _ in producer.cancel() }
        return HTTPBody(chunks, length: .unknown, iterationBehavior: .single)
    }

    /// Yields `chunk`, waiting while the client's buffer is full (the subscription's own
    /// buffer, not the reactor, takes the wait).
    private static func send(_ chunk: ArraySlice<UInt8>, to output: AsyncStream<ArraySlice<UInt8>>.Continuation) async {
        while case .dropped = output.yield(chunk) {
            if Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
