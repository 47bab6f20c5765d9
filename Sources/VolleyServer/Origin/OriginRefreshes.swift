import Synchronization

/// The origin refreshes in flight, shared by the reactors of one server: however many
/// reactors have clients waiting for a name, the origin is asked once.
final class OriginRefreshes: Sendable {
    private let inFlight = Mutex<[String: Task<OriginOutcome, Never>]>([:])

    /// Refreshes `name` from `origin`, or waits for the refresh of it already running.
    func refresh(_ name: String, from origin: any TFTPOrigin) async -> OriginOutcome {
        let task = inFlight.withLock { tasks in
            if let running = tasks[name] { return running }
            let started = Task { await origin.refresh(name) }
            tasks[name] = started
            return started
        }
        let outcome = await task.value
        inFlight.withLock { tasks in
            if tasks[name] == task { tasks[name] = nil }
        }
        return outcome
    }
}
