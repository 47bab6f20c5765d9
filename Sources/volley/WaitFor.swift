import Dispatch
import Synchronization

/// Runs `body` on Swift's concurrency pool and blocks the calling (main) thread until it ends.
///
/// `volley` is a synchronous command so that `serve` keeps the main thread outside the pool
/// (see ``ServeCommand/run()``); async work reaches the pool through this.
func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<T, any Error>?>(nil)
    Task {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
