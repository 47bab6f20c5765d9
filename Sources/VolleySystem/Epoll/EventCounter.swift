internal import CEpoll
import Glibc

/// An eventfd: a counter another thread bumps to wake a loop waiting in epoll.
public struct EventCounter: ~Copyable, Sendable {
    private let descriptor: OwnedDescriptor

    /// Creates a non-blocking, close-on-exec eventfd.
    public init() throws(SystemError) {
        descriptor = OwnedDescriptor(adopting: try syscall("eventfd") { eventfd(0, VOLLEY_EFD_NONBLOCK | VOLLEY_EFD_CLOEXEC) })
    }

    /// The descriptor to watch for readability.
    public var rawValue: Int32 { descriptor.rawValue }

    /// Adds one (from any thread); the counter becomes readable.
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor.rawValue, &one, 8)
    }

    /// Resets the counter to zero (nothing happens when it already is).
    public func drain() {
        var counter: UInt64 = 0
        _ = read(descriptor.rawValue, &counter, 8)
    }
}
