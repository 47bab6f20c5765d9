internal import CEpoll
import Glibc

/// An eventfd: a counter another thread bumps to wake a loop waiting in epoll.
public struct EventCounter: ~Copyable, Sendable {
    private let owned: OwnedDescriptor

    /// Creates a non-blocking, close-on-exec eventfd.
    public init() throws(SystemError) {
        owned = OwnedDescriptor(adopting: try syscall("eventfd") { eventfd(0, VOLLEY_EFD_NONBLOCK | VOLLEY_EFD_CLOEXEC) })
    }

    /// The descriptor to watch for readability.
    public var descriptor: Descriptor { owned.descriptor }

    /// Adds one (from any thread); the counter becomes readable.
    public func signal() {
        var one: UInt64 = 1
        _ = write(owned.descriptor.rawValue, &one, 8)
    }

    /// Resets the counter to zero (nothing happens when it already is).
    public func drain() {
        var counter: UInt64 = 0
        _ = read(owned.descriptor.rawValue, &counter, 8)
    }
}
