import Synchronization

/// One subscriber's bounded queue: the hub posts to it from the reactor thread and never
/// waits; the subscriber's connection takes everything queued at once, so a burst of events
/// (a storm of boards starting) becomes one write, and a busy writer costs the reactor no
/// wake-up per event.
final class EventMailbox: Sendable {
    /// What became of a post.
    enum Posted {
        case accepted
        /// The queue was full: the subscriber fell behind and is now closed, marked dropped.
        case full
        /// The subscriber had already gone.
        case closed
    }

    private struct State {
        var items: [EventHub.Item] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
        var dropped = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues `item`, waking the subscriber when it waits.
    func post(_ item: EventHub.Item) -> Posted {
        let (posted, waiter) = state.withLock { state -> (Posted, CheckedContinuation<Void, Never>?) in
            guard !state.closed else { return (.closed, nil) }
            let waiter = state.waiter
            state.waiter = nil
            guard state.items.count < capacity else {
                (state.closed, state.dropped) = (true, true)
                return (.full, waiter)
            }
            state.items.append(item)
            return (.accepted, waiter)
        }
        waiter?.resume()
        return posted
    }

    /// Ends the queue: what is queued may still be taken, then ``take()`` returns nothing.
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Whether the hub closed it for falling behind.
    var wasDropped: Bool { state.withLock { $0.dropped } }

    /// Everything queued, waiting until there is something; empty once closed and drained
    /// (or when the task is cancelled: the client went away).
    func take() async -> [EventHub.Item] {
        while true {
            let taken = state.withLock { state -> [EventHub.Item]? in
                if !state.items.isEmpty {
                    var items: [EventHub.Item] = []
                    swap(&items, &state.items)
                    return items
                }
                return state.closed ? [] : nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state in
                        guard state.items.isEmpty, !state.closed else { return true }
                        state.waiter = waiter
                        return false
                    }
                    if ready { waiter.resume() }
                }
            } onCancel: {
                close()
            }
        }
    }
}
