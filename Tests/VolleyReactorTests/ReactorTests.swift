import VolleySystem
import VolleySystemTestSupport
import Glibc
import SystemPackage
import Testing
@testable import VolleyReactor

/// Reads and discards every waiting datagram.
private func drain(_ fd: Descriptor) {
    var byte: UInt8 = 0
    while recv(fd.rawValue, &byte, 1, Int32(MSG_DONTWAIT)) >= 0 {}
}

@Suite("Reactor", .timeLimit(.minutes(1)))
struct ReactorTests {
    // MARK: Timers

    @Test func timerFiresThroughRunOnceNotBeforeItsDeadline() throws {
        let reactor = try Reactor()
        var firedAt: [UInt64] = []
        let start = reactor.now
        reactor.addTimer(afterMilliseconds: 30) { firedAt.append(MonotonicClock.milliseconds()) }
        #expect(reactor.pendingTimerCount == 1)
        #expect(reactor.run { !firedAt.isEmpty })
        #expect(firedAt.count == 1)
        #expect(firedAt[0] >= start + 30)
        #expect(reactor.pendingTimerCount == 0)
        for _ in 0..<3 { reactor.runOnce(maximumWaitMilliseconds: 5) }
        #expect(firedAt.count == 1)
    }

    @Test func runOnceWithoutTimersOrEventsReturnsAfterTheWait() throws {
        let reactor = try Reactor()
        let start = MonotonicClock.milliseconds()
        reactor.runOnce(maximumWaitMilliseconds: 0)
        reactor.runOnce(maximumWaitMilliseconds: 20)
        let elapsed = MonotonicClock.milliseconds() - start
        #expect(elapsed >= 19 && elapsed < 2000)
    }

    @Test func runOnceWakesForATimerBeforeTheMaximumWait() throws {
        let reactor = try Reactor()
        var fired = false
        reactor.addTimer(afterMilliseconds: 10) { fired = true }
        let start = MonotonicClock.milliseconds()
        // A single call with a long maximum wait must return when the timer is due.
        for _ in 0..<3 where !fired { reactor.runOnce(maximumWaitMilliseconds: 5_000) }
        #expect(fired)
        #expect(MonotonicClock.milliseconds() - start < 4_000)
    }

    @Test func zeroAndNegativeDelaysFireOnTheNextRunOnce() throws {
        let reactor = try Reactor()
        var fired: [Int] = []
        reactor.addTimer(afterMilliseconds: 0) { fired.append(0) }
        reactor.addTimer(afterMilliseconds: -50) { fired.append(-50) }
        reactor.runOnce(maximumWaitMilliseconds: 0)
        #expect(Set(fired) == [0, -50])
    }

    @Test func rearmLaterThroughTheReactorMovesTheDeadline() throws {
        let reactor = try Reactor()
        var firedAt: [UInt64] = []
        let id = reactor.addTimer(afterMilliseconds: 20) { firedAt.append(MonotonicClock.milliseconds()) }
        reactor.runOnce(maximumWaitMilliseconds: 0)
        let rearmedAt = reactor.now
        #expect(reactor.rearmTimer(id, afterMilliseconds: 150))
        #expect(reactor.run { !firedAt.isEmpty })
        #expect(firedAt.count == 1)
        #expect(firedAt[0] >= rearmedAt + 150, "fired at the old deadline")
        #expect(!reactor.rearmTimer(id, afterMilliseconds: 10), "a fired timer cannot be re-armed")
    }

    @Test func rearmEarlierThroughTheReactorFiresEarly() throws {
        let reactor = try Reactor()
        var fired = 0
        let start = reactor.now
        let id = reactor.addTimer(afterMilliseconds: 60_000) { fired += 1 }
        #expect(reactor.rearmTimer(id, afterMilliseconds: 10))
        #expect(reactor.run(untilWithin: 2000) { fired > 0 })
        #expect(reactor.now - start < 2500)
        #expect(reactor.pendingTimerCount == 0)
    }

    @Test func cancelledTimerNeverFires() throws {
        let reactor = try Reactor()
        var fired = 0
        var witness = false
        let id = reactor.addTimer(afterMilliseconds: 10) { fired += 1 }
        reactor.addTimer(afterMilliseconds: 60) { witness = true }
        reactor.cancelTimer(id)
        #expect(reactor.pendingTimerCount == 1)
        #expect(reactor.run { witness })
        #expect(fired == 0)
        #expect(!reactor.rearmTimer(id, afterMilliseconds: 1))
        reactor.cancelTimer(id)
    }

    @Test func timerActionsMayAddTimers() throws {
        let reactor = try Reactor()
        var chain: [Int] = []
        func schedule(_ n: Int) {
            reactor.addTimer(afterMilliseconds: 1) {
                chain.append(n)
                if n < 5 { schedule(n + 1) }
            }
        }
        schedule(1)
        #expect(reactor.run { chain.count == 5 })
        #expect(chain == [1, 2, 3, 4, 5])
    }

    /// Two timers due in the same wake-up: the first one's action cancels (or re-arms) the
    /// second, which has not run yet, so the second must not run now.
    @Test func aTimerDueInTheSameWakeUpCanStillBeCancelledOrRearmed() throws {
        let reactor = try Reactor()
        var log: [String] = []
        var victim: TimerID?
        var rearmed: TimerID?
        var rearmResult: Bool?
        reactor.addTimer(afterMilliseconds: 4) {
            log.append("first")
            reactor.cancelTimer(victim!)
            rearmResult = reactor.rearmTimer(rearmed!, afterMilliseconds: 100_000)
        }
        victim = reactor.addTimer(afterMilliseconds: 5) { log.append("cancelled one ran") }
        rearmed = reactor.addTimer(afterMilliseconds: 6) { log.append("re-armed one ran") }
        // Let all three become due before the reactor looks at them.
        usleep(20_000)
        reactor.runOnce(maximumWaitMilliseconds: 0)
        #expect(log == ["first"])
        #expect(rearmResult == true)
        #expect(reactor.pendingTimerCount == 1)
    }

    @Test func timersCancelledByAnEarlierActionInTheSameWakeUpAllStay() throws {
        let reactor = try Reactor()
        var ran: [Int] = []
        var ids: [TimerID] = []
        // Timer 0 cancels every odd timer; all are due together.
        ids.append(
            reactor.addTimer(afterMilliseconds: 1) {
                ran.append(0)
                for (i, id) in ids.enumerated() where i % 2 == 1 { reactor.cancelTimer(id) }
            })
        for i in 1..<20 { ids.append(reactor.addTimer(afterMilliseconds: 2) { ran.append(i) }) }
        usleep(10_000)
        reactor.runOnce(maximumWaitMilliseconds: 0)
        #expect(ran.sorted() == [0] + (1..<20).filter { $0 % 2 == 0 })
        #expect(reactor.pendingTimerCount == 0)
    }

    @Test func zeroDelayTimersAddedByActionsDoNotStarveDescriptors() throws {
        let reactor = try Reactor()
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        var spins = 0
        var running = true
        func spin() {
            reactor.addTimer(afterMilliseconds: 0) {
                spins += 1
                if running { spin() }
            }
        }
        spin()
        var received = false
        try reactor.register(receiver) { _ in
            received = true
            running = false
            drain(receiver)
        }
        Net.send(sender, [1], to: address)
        var wakeUps = 0
        while !received && wakeUps < 100 {
            reactor.runOnce(maximumWaitMilliseconds: 10)
            wakeUps += 1
        }
        #expect(received)
        #expect(wakeUps <= 3)
        #expect(spins >= 1)
    }

    // MARK: Descriptors

    @Test func registeredSocketHandlerRunsWhenADatagramArrivesAndStopsAfterDeregister() throws {
        let reactor = try Reactor()
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        var calls: [UInt32] = []
        try reactor.register(receiver) { events in
            calls.append(events)
            drain(receiver)
        }
        reactor.runOnce(maximumWaitMilliseconds: 0)
        #expect(calls.isEmpty, "no datagram yet")
        Net.send(sender, [1, 2, 3], to: address)
        #expect(reactor.run { !calls.isEmpty })
        #expect(calls.count == 1)
        #expect(calls[0] & Reactor.readable != 0)
        #expect(calls[0] & Reactor.failed == 0)

        reactor.deregister(receiver)
        reactor.deregister(receiver)  // twice is harmless
        Net.send(sender, [4], to: address)
        for _ in 0..<5 { reactor.runOnce(maximumWaitMilliseconds: 10) }
        #expect(calls.count == 1)

        // Registering again works and sees the datagram that is still waiting.
        try reactor.register(receiver) { _ in
            calls.append(0)
            drain(receiver)
        }
        #expect(reactor.run { calls.count == 2 })
    }

    @Test("one turn: the events, then the after-events hooks, then the due timers, then the before-wait hooks")
    func hooksRunInTheirPlaceInTheTurn() throws {
        let reactor = try Reactor()
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        var order: [String] = []
        try reactor.register(receiver) { _ in
            order.append("event")
            drain(receiver)
        }
        reactor.addAfterEventsHook { order.append("after events") }
        reactor.addBeforeWaitHook { order.append("before wait") }
        reactor.addTimer(afterMilliseconds: 0) { order.append("timer") }
        Net.send(sender, [1], to: address)
        #expect(Net.waitReadable(receiver, milliseconds: 2000))
        reactor.runOnce(maximumWaitMilliseconds: 1000)
        #expect(order == ["event", "after events", "timer", "before wait"])
    }

    @Test func handlerMayDeregisterItself() throws {
        let reactor = try Reactor()
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        var calls = 0
        try reactor.register(receiver) { _ in
            calls += 1
            reactor.deregister(receiver)  // without reading: level-triggered would fire again
        }
        Net.send(sender, [1], to: address)
        #expect(reactor.run { calls > 0 })
        for _ in 0..<5 { reactor.runOnce(maximumWaitMilliseconds: 5) }
        #expect(calls == 1)
    }

    @Test func registeringTheSameDescriptorTwiceFailsWithoutBreakingTheFirstRegistration() throws {
        let reactor = try Reactor()
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        var first = 0
        var second = 0
        try reactor.register(receiver) { _ in
            first += 1
            drain(receiver)
        }
        let error = #expect(throws: SystemError.self) {
            try reactor.register(receiver) { _ in
                second += 1
                drain(receiver)
            }
        }
        #expect(error?.errno.rawValue == EEXIST)
        Net.send(sender, [1], to: address)
        #expect(reactor.run(untilWithin: 500) { first > 0 }, "the original handler must survive a failed re-registration")
        #expect(second == 0)
        // And it can still be removed.
        reactor.deregister(receiver)
        Net.send(sender, [2], to: address)
        for _ in 0..<3 { reactor.runOnce(maximumWaitMilliseconds: 5) }
        #expect(first <= 1)
    }

    @Test func registeringAnInvalidDescriptorThrows() throws {
        let reactor = try Reactor()
        // A regular file cannot be watched by epoll (EPERM).
        let fd = Descriptor(rawValue: open("/proc/self/stat", O_RDONLY))
        try #require(fd.rawValue >= 0)
        defer { closeDescriptor(fd) }
        #expect(throws: SystemError.self) { try reactor.register(fd) { _ in } }
        reactor.deregister(fd)
    }

    /// A handler earlier in the batch deregisters another descriptor, closes it and gets a
    /// new socket with the same number: the old event must not reach the new handler.
    @Test func staleEventForAReusedDescriptorNumberIsDropped() throws {
        let reactor = try Reactor()
        let (a, addressA) = try Net.bound(Net.v4())
        let (b, addressB) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(a)
            closeDescriptor(b)
            closeDescriptor(sender)
        }
        var oldCalls = 0
        var newCalls = 0
        var swapped = false

        func replace(_ victim: Descriptor) {
            guard !swapped else { return }
            swapped = true
            reactor.deregister(victim)
            // Same descriptor number, different socket: dup2 closes the old one atomically,
            // so a concurrent test cannot grab the number in between.
            guard let (fresh, _) = try? Net.bound(Net.v4()) else {
                Issue.record("socket")
                return
            }
            #expect(dup2(fresh.rawValue, victim.rawValue) == victim.rawValue)
            closeDescriptor(fresh)
            do {
                try reactor.register(victim) { _ in
                    newCalls += 1
                    drain(victim)
                }
            } catch {
                Issue.record("re-register: \(error)")
            }
        }
        try reactor.register(a) { _ in
            oldCalls += 1
            drain(a)
            replace(b)
        }
        try reactor.register(b) { _ in
            oldCalls += 1
            drain(b)
            replace(a)
        }
        Net.send(sender, [1], to: addressA)
        Net.send(sender, [2], to: addressB)
        #expect(Net.waitReadable(a, milliseconds: 1000) && Net.waitReadable(b, milliseconds: 1000))

        reactor.runOnce(maximumWaitMilliseconds: 100)
        #expect(oldCalls == 1, "the replaced socket's old handler ran")
        #expect(newCalls == 0, "the new handler got the old socket's event")
        for _ in 0..<3 { reactor.runOnce(maximumWaitMilliseconds: 5) }
        #expect(newCalls == 0)

        // The new registration itself works: find the socket that was replaced and send to it.
        let replaced = try [(a, addressA), (b, addressB)].map { ($0.0, try UDPSocket.localAddress(of: $0.0), $0.1) }
            .filter { $0.1 != $0.2 }
        try #require(replaced.count == 1)
        Net.send(sender, [3], to: replaced[0].1)
        #expect(reactor.run { newCalls == 1 })
        #expect(oldCalls == 1)
    }

    @Test func eventsArrayGrowsWhenMoreDescriptorsAreReadyThanItsCapacity() throws {
        let reactor = try Reactor(initialEventCapacity: 2)
        let (sender, _) = try Net.bound(Net.v4())
        var sockets: [(Descriptor, SocketAddress)] = []
        defer {
            closeDescriptor(sender)
            for (fd, _) in sockets { closeDescriptor(fd) }
        }
        var handled: Set<Descriptor> = []
        var calls = 0
        for _ in 0..<10 {
            let (fd, address) = try Net.bound(Net.v4())
            sockets.append((fd, address))
            try reactor.register(fd) { _ in
                calls += 1
                handled.insert(fd)
                drain(fd)
            }
        }
        for (fd, address) in sockets {
            Net.send(sender, [0xAB], to: address)
            #expect(Net.waitReadable(fd, milliseconds: 1000))
        }
        // Capacity 2 → 4 → 8: three wake-ups see 2 + 4 + 4 events. Without growth it takes five.
        for _ in 0..<3 { reactor.runOnce(maximumWaitMilliseconds: 100) }
        #expect(handled.count == 10)
        #expect(calls == 10)
        // Later batches larger than the old capacity still work.
        for (_, address) in sockets { Net.send(sender, [0xCD], to: address) }
        #expect(reactor.run { calls == 20 })
        #expect(calls == 20)
    }

    @Test func stopMakesRunReturn() throws {
        let reactor = try Reactor()
        var ticks = 0
        func tick() {
            reactor.addTimer(afterMilliseconds: 1) {
                ticks += 1
                if ticks == 3 { reactor.stop() } else { tick() }
            }
        }
        tick()
        // A safety net so that a broken stop() fails instead of hanging.
        reactor.addTimer(afterMilliseconds: 5_000) {
            ticks = -1
            reactor.stop()
        }
        reactor.run()
        #expect(ticks == 3)
    }
}
