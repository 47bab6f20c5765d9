import Dispatch
import Glibc
internal import CEpoll
import Synchronization

/// The one `Sendable` way into a reactor: a dedicated thread running a
/// ``Reactor``, with an inbox other threads post work to (woken by eventfd).
public final class ReactorThread: Sendable {
    private let inbox = Mutex<[@Sendable (Reactor) -> Void]>([])
    private let state = Mutex<State>(State())
    private let done = Mutex<Bool>(false)

    private struct State: @unchecked Sendable {
        // The reactor is only touched on its own thread; the pointer is kept for wake-ups.
        var wake: (() -> Void)?
        var thread: pthread_t?
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
        let body = ThreadBody {
            setThreadName(name)
            let reactor: Reactor
            do {
                reactor = try Reactor()
                reactor.drainInbox = { [weak reactor] in
                    guard let reactor else { return }
                    handle.drain(on: reactor)
                }
                let unmanaged = Unmanaged.passUnretained(reactor)
                handle.state.withLock { $0.wake = { unmanaged.takeUnretainedValue().wakeUp() } }
                try setUp(reactor)
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
        var thread = pthread_t()
        let context = Unmanaged.passRetained(body).toOpaque()
        let result = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            throw SystemError("pthread_create", errno: result)
        }
        handle.state.withLock { $0.thread = thread }
        if let error = started.wait() {
            pthread_join(thread, nil)
            handle.state.withLock { $0.thread = nil }
            throw error
        }
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
        let thread = state.withLock { state -> pthread_t? in
            defer { state.thread = nil }
            return state.thread
        }
        if let thread { pthread_join(thread, nil) }
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

private final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private func setThreadName(_ name: String) {
    volley_set_thread_name(String(name.prefix(15)))
}
