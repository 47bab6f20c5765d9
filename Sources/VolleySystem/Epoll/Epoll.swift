internal import CEpoll
import Glibc
import SystemPackage

/// An epoll instance: the kernel's readiness queue for many descriptors.
///
/// Each registration carries a 64-bit tag that comes back with its events; the reactor
/// packs the descriptor and a generation into it to drop stale events of a reused number.
public struct Epoll: ~Copyable {
    private let owned: OwnedDescriptor

    /// Readable.
    public static let readable: UInt32 = VOLLEY_EPOLLIN
    /// Error or hang-up.
    public static let failed: UInt32 = VOLLEY_EPOLLERR | VOLLEY_EPOLLHUP
    /// Wake only one of the epoll instances watching the same descriptor with this flag
    /// (several reactors sharing one listening socket), not all of them.
    public static let exclusive: UInt32 = VOLLEY_EPOLLEXCLUSIVE

    /// Creates a close-on-exec epoll instance.
    public init() throws(SystemError) {
        owned = OwnedDescriptor(adopting: try syscall("epoll_create1") { epoll_create1(VOLLEY_EPOLL_CLOEXEC) })
    }

    /// Watches `target` for `events`; `tag` is returned with each of its events.
    /// - Throws: ``SystemError`` (`EEXIST` when already watched, `ENOMEM`, `ENOSPC`).
    public func add(_ target: Descriptor, events: UInt32, tag: UInt64) throws(SystemError) {
        var event = epoll_event()
        volley_epoll_event_set(&event, events, tag)
        _ = try syscall("epoll_ctl(ADD)") { epoll_ctl(owned.descriptor.rawValue, VOLLEY_EPOLL_CTL_ADD, target.rawValue, &event) }
    }

    /// Stops watching `target`; a descriptor the kernel already forgot (closed) is not an error.
    public func remove(_ target: Descriptor) {
        _ = epoll_ctl(owned.descriptor.rawValue, VOLLEY_EPOLL_CTL_DEL, target.rawValue, nil)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and fills `events`; returns how many
    /// arrived (0 on timeout or when a signal interrupted the wait).
    public func wait(into events: EpollEvents, timeoutMilliseconds: Int) -> Int {
        let count = epoll_wait(owned.descriptor.rawValue, events.storage, Int32(events.capacity), Int32(clamping: timeoutMilliseconds))
        if count >= 0 { return Int(count) }
        let code = Errno(rawValue: Glibc.errno)
        // Anything but EINTR means the epoll descriptor or buffer is broken: a bug.
        precondition(code == .interrupted, "epoll_wait failed: \(SystemError("epoll_wait", errno: code))")
        return 0
    }
}

/// The buffer ``Epoll/wait(into:timeoutMilliseconds:)`` fills; grows when a wait fills it.
public final class EpollEvents {
    fileprivate private(set) var storage: UnsafeMutablePointer<epoll_event>
    /// How many events one wait can return.
    public private(set) var capacity: Int

    /// Allocates room for `capacity` events.
    public init(capacity: Int = 256) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// The tag registered with the descriptor of event `index`.
    public func tag(at index: Int) -> UInt64 {
        precondition(index < capacity)
        return volley_epoll_event_data(storage + index)
    }

    /// The event mask of event `index`.
    public func events(at index: Int) -> UInt32 {
        precondition(index < capacity)
        return storage[index].events
    }

    /// Doubles the capacity (the contents are dropped).
    public func grow() {
        storage.deallocate()
        capacity *= 2
        storage = .allocate(capacity: capacity)
    }
}

@available(*, unavailable)
extension EpollEvents: Sendable {}
