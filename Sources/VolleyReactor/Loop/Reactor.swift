import VolleySystem

/// A single-threaded event loop: epoll readiness, millisecond timers, and work
/// handed in from other threads. It knows nothing about TFTP.
///
/// Create it and use it on one thread only (see ``ReactorThread``). Handlers run
/// on that thread, one at a time, and may register, deregister and arm timers.
public final class Reactor {
    /// Called when a registered descriptor is ready; the argument is the epoll event mask.
    public typealias ReadinessHandler = (_ events: UInt32) -> Void

    private struct Registration {
        var generation: UInt32
        var handler: ReadinessHandler?
    }

    private let epoll: Epoll
    private let wakeCounter: EventCounter
    private var registrations: [Registration] = []
    private let events: EpollEvents
    private var timers = TimerQueue()
    private var beforeWaitHooks: [() -> Void] = []
    private var afterEventsHooks: [() -> Void] = []
    private var dueTimers: [() -> Void] = []
    private var stopRequested = false
    private var registrationGeneration: UInt32 = 0
    /// Work from other threads, drained on wake-up. Set by ``ReactorThread``.
    var drainInbox: (() -> Void)?

    /// The loop's clock, refreshed once per wake-up (monotonic milliseconds).
    public private(set) var now: UInt64

    /// Epoll's readable mask, for handlers to test events against.
    public static let readable: UInt32 = Epoll.readable
    /// Epoll's error and hang-up mask.
    public static let failed: UInt32 = Epoll.failed

    /// Creates the epoll instance and its wake-up eventfd.
    public init(initialEventCapacity: Int = 256) throws(SystemError) {
        epoll = try Epoll()
        wakeCounter = try EventCounter()
        events = EpollEvents(capacity: initialEventCapacity)
        now = MonotonicClock.milliseconds()
        try register(wakeCounter.descriptor) { [unowned self] _ in
            self.wakeCounter.drain()
            self.drainInbox?()
        }
    }

    // MARK: - Descriptors

    /// Watches `descriptor` for readability and calls `handler` on the loop thread.
    ///
    /// The reactor does not own the descriptor: deregister it before closing it. With
    /// `exclusive`, a descriptor several reactors watch wakes only one of them per event
    /// (`EPOLLEXCLUSIVE`): the one that reads it handles what it read.
    public func register(_ descriptor: Descriptor, exclusive: Bool = false, handler: @escaping ReadinessHandler) throws(SystemError) {
        let index = Int(descriptor.rawValue)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(Registration(generation: 0), count: index + 1 - registrations.count))
        }
        registrationGeneration &+= 1
        let previous = registrations[index]
        registrations[index] = Registration(generation: registrationGeneration, handler: handler)
        do {
            try epoll.add(
                descriptor, events: exclusive ? Epoll.readable | Epoll.exclusive : Epoll.readable,
                tag: UInt64(registrationGeneration) << 32 | UInt64(UInt32(descriptor.rawValue)))
        } catch {
            // E.g. EEXIST: keep an existing registration intact (and deregistrable).
            registrations[index] = previous
            throw error
        }
    }

    /// Stops watching `descriptor`; events already fetched for it are dropped.
    public func deregister(_ descriptor: Descriptor) {
        let index = Int(descriptor.rawValue)
        guard index < registrations.count, registrations[index].handler != nil else { return }
        registrations[index].handler = nil
        registrations[index].generation = 0
        epoll.remove(descriptor)
    }

    // MARK: - Timers

    /// Runs `action` once, `milliseconds` from now.
    @discardableResult
    public func addTimer(afterMilliseconds milliseconds: Int, _ action: @escaping () -> Void) -> TimerID {
        timers.add(deadline: now &+ UInt64(max(0, milliseconds)), action: action)
    }

    /// Moves a pending timer to fire `milliseconds` from now; false if it already fired or was cancelled.
    @discardableResult
    public func rearmTimer(_ id: TimerID, afterMilliseconds milliseconds: Int) -> Bool {
        timers.rearm(id, deadline: now &+ UInt64(max(0, milliseconds)))
    }

    /// Cancels a pending timer; cancelling a fired or unknown timer does nothing.
    public func cancelTimer(_ id: TimerID) {
        timers.cancel(id)
    }

    /// How many timers are pending.
    public var pendingTimerCount: Int { timers.activeCount }

    // MARK: - Hooks

    /// Runs `hook` on every turn of the loop, after events and timers were handled and
    /// before the loop waits again (Redis `ae.c`'s `beforesleep`): the place to flush
    /// work that handlers batched up, such as queued datagrams.
    public func addBeforeWaitHook(_ hook: @escaping () -> Void) {
        beforeWaitHooks.append(hook)
    }

    /// Runs `hook` on every turn of the loop, after the events were dispatched and before
    /// the due timers fire: the place to finish I/O that handlers only noted (say, sockets
    /// found readable, received together), so that a timer sees what arrived before it.
    public func addAfterEventsHook(_ hook: @escaping () -> Void) {
        afterEventsHooks.append(hook)
    }

    // MARK: - Running

    /// Runs the loop on the calling thread until ``stop()``.
    public func run() {
        stopRequested = false
        while !stopRequested {
            runOnce(maximumWaitMilliseconds: -1)
        }
    }

    /// Waits for events at most `maximumWaitMilliseconds` (-1: until the next timer
    /// or event), then dispatches them and any due timers.
    public func runOnce(maximumWaitMilliseconds: Int) {
        var wait = maximumWaitMilliseconds
        if let untilTimer = timers.millisecondsUntilNextDeadline(now: MonotonicClock.milliseconds()) {
            let capped = Int(min(untilTimer, 60_000))
            wait = wait < 0 ? capped : min(wait, capped)
        }
        let count = epoll.wait(into: events, timeoutMilliseconds: wait)
        now = MonotonicClock.milliseconds()
        for i in 0..<count {
            let tag = events.tag(at: i)
            let descriptor = Int(UInt32(truncatingIfNeeded: tag))
            let generation = UInt32(truncatingIfNeeded: tag >> 32)
            // A handler earlier in this batch may have closed the fd and reused its number.
            guard descriptor < registrations.count, registrations[descriptor].generation == generation,
                let handler = registrations[descriptor].handler
            else { continue }
            handler(events.events(at: i))
        }
        if count == events.capacity { events.grow() }
        for hook in afterEventsHooks { hook() }
        fireDueTimers()
        for hook in beforeWaitHooks { hook() }
    }

    /// Makes ``run()`` return after the current wake-up.
    public func stop() {
        stopRequested = true
    }

    /// Wakes the loop from another thread (eventfd write).
    func wakeUp() {
        wakeCounter.signal()
    }

    private func fireDueTimers() {
        // One at a time, so an action can still cancel or re-arm another timer due in this
        // wake-up. The budget stops zero-delay timers added by actions from starving I/O.
        var budget = timers.activeCount
        while budget > 0 {
            timers.popDue(now: now, limit: 1, into: &dueTimers)
            guard let action = dueTimers.popLast() else { return }
            budget -= 1
            action()
        }
    }
}

@available(*, unavailable)
extension Reactor: Sendable {}
