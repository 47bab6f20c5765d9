internal import CEpoll
import Glibc

/// A named POSIX thread that runs one closure; joined by its owner.
public struct SystemThread: ~Copyable, Sendable {
    private let thread: pthread_t

    /// Starts `body` on a new thread named `name` (15 bytes are kept: shown by `top -H`).
    /// - Throws: ``SystemError`` when the thread cannot be created (`EAGAIN` at the limit).
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(
            ThreadBody {
                volley_set_thread_name(String(name.prefix(15)))
                body()
            }
        ).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: .init(rawValue: result))
        }
        self.thread = thread
    }

    /// Waits for the thread to end.
    public consuming func join() {
        pthread_join(thread, nil)
    }
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
