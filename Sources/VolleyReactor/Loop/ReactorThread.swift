import Dispatch
import Synchronization
import VolleySystem

/// The one `Sendable` way into a reactor: a dedicated thread running a
/// ``Reactor``, with an inbox other threads post work to (woken by eventfd).
public final class ReactorThread: Sendable {
    private let inbox = Mutex<[@Sendable (Reactor) -> Void]>([])
    private let state = Mutex<State>(State())
    private let done = Mutex<Bool>(false)

    private struct State: ~Copyable, @unchecked Sendable {
        // The reactor is only touched on its own thread; the pointer is kept for wake-ups.
        var wake: (() -> Void)?
        var thread: SystemThread?
    }

    private init() {}

    /// Starts a thread, creates the reactor on it, runs `setUp` there, and returns
    /// once `setUp` finished. Errors from `setUp` are rethrown here and the thread ends.
    public static func start(
        name: String,
        setUp: @escaping @Sendable (Reactor) throws -> Void
    ) throws -> ReactorThread {
        let handle = ReactorThread()
        let started = StartSignal()
        // Taken (and so released) once it ran: what it captured, such as listening sockets,
        // must not live as long as the thread.
        let pendingSetUp = Mutex<(@Sendable (Reactor) throws -> Void)?>(setUp)
        let thread: SystemThread
        do {
            thread = try SystemThread(name: name) {
                let reactor: Reactor
                do {
                    reactor = try Reactor()
                    reactor.drainInbox = { [weak reactor] in
                        guard let reactor else { return }
                        handle.drain(on: reactor)
                    }
                    let unmanaged = Unmanaged.passUnretained(reactor)
                    handle.state.withLock { $0.wake = { unmanaged.takeUnretainedValue().wakeUp() } }
                    let setUp = pendingSetUp.withLock { $0.take() }
                    try setUp?(reactor)
                } catch {
                    handle.state.withLock { $0.wake = nil }
                    started.signal(error)
                    return
                }
                started.signal(nil)
                reactor.run()
                handle.state.withLock { $0.wake = nil }
                handle.inbox.withLock { $0.removeAll() }
            }
        }
        if let error = started.wait() {
            thread.join()
            throw error
        }
        var owned = Optional(thread)
        handle.state.withLock { $0.thread = owned.take() }
        return handle
    }

    /// Runs `work` on the reactor thread soon. Dropped if the reactor has stopped.
    public func execute(_ work: @escaping @Sendable (Reactor) -> Void) {
        inbox.withLock { $0.append(work) }
        state.withLock { $0.wake?() }
    }

    /// Stops the loop after the work already posted, and waits for the thread to end.
    public func stopAndWait() {
        execute { $0.stop() }
        let thread = state.withLock { state -> SystemThread? in
            let thread = state.thread.take()
            return thread
        }
        thread?.join()
    }

    private func drain(on reactor: Reactor) {
        let work = inbox.withLock { pending -> [@Sendable (Reactor) -> Void] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        for item in work { item(reactor) }
    }
}

/// A one-shot, cross-thread "setup finished" signal carrying an optional error.
private final class StartSignal: Sendable {
    private let error = Mutex<(any Error)?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    func signal(_ error: (any Error)?) {
        self.error.withLock { $0 = error }
        semaphore.signal()
    }

    func wait() -> (any Error)? {
        semaphore.wait()
        return error.withLock { $0 }
    }
}
