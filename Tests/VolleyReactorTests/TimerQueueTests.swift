import Testing
import VolleyTestSupport
@testable import VolleyReactor

/// Records which tokens fired, in order.
private final class FireLog {
    var fired: [Int] = []
    func action(_ token: Int) -> () -> Void { { [unowned self] in self.fired.append(token) } }
}

/// millisecondsUntilNextDeadline is mutating (it drops stale tops), which #expect cannot call directly.
private func untilNext(_ queue: inout TimerQueue, now: UInt64) -> UInt64? {
    queue.millisecondsUntilNextDeadline(now: now)
}

private func rearm(_ queue: inout TimerQueue, _ id: TimerID, deadline: UInt64) -> Bool {
    queue.rearm(id, deadline: deadline)
}

private func popAndRun(_ queue: inout TimerQueue, now: UInt64, limit: Int = .max) -> Int {
    var due: [() -> Void] = []
    queue.popDue(now: now, limit: limit, into: &due)
    for action in due { action() }
    return due.count
}

@Suite("TimerQueue")
struct TimerQueueTests {
    @Test func manyTimersFireInDeadlineOrder() {
        var rng = SplitMix64(seed: 7)
        var queue = TimerQueue()
        let log = FireLog()
        var deadlines: [UInt64] = []
        for token in 0..<500 {
            let deadline = UInt64.random(in: 0...1000, using: &rng)
            deadlines.append(deadline)
            _ = queue.add(deadline: deadline, action: log.action(token))
        }
        #expect(queue.activeCount == 500)
        _ = popAndRun(&queue, now: 1000)
        #expect(log.fired.count == 500)
        #expect(Set(log.fired).count == 500)
        let firedDeadlines = log.fired.map { deadlines[$0] }
        #expect(firedDeadlines == firedDeadlines.sorted())
        #expect(queue.activeCount == 0)
        #expect(untilNext(&queue, now: 1000) == nil)
    }

    @Test func eachTimerFiresExactlyAtItsDeadlineWhenSteppingTime() {
        var rng = SplitMix64(seed: 11)
        var queue = TimerQueue()
        var deadlines: [UInt64] = []
        var firedAt: [Int: UInt64] = [:]
        var clock: UInt64 = 0
        for token in 0..<200 {
            let deadline = UInt64.random(in: 1...300, using: &rng)
            deadlines.append(deadline)
            _ = queue.add(deadline: deadline) { firedAt[token] = clock }
        }
        for now in UInt64(0)...300 {
            clock = now
            _ = popAndRun(&queue, now: now)
        }
        #expect(firedAt.count == 200)
        for (token, at) in firedAt { #expect(at == deadlines[token], "timer \(token)") }
    }

    @Test func rearmLaterFiresAtTheNewDeadlineOnly() {
        var queue = TimerQueue()
        let log = FireLog()
        let id = queue.add(deadline: 100, action: log.action(1))
        #expect(rearm(&queue, id, deadline: 300))
        // Lazy: the old entry may still be the top, but it never reports later than the real deadline.
        #expect(untilNext(&queue, now: 50)! <= 250)
        #expect(popAndRun(&queue, now: 100) == 0)
        #expect(log.fired.isEmpty)
        #expect(queue.isActive(id))
        // Once the old entry surfaced, the queue knows the real deadline.
        #expect(untilNext(&queue, now: 100) == 200)
        #expect(popAndRun(&queue, now: 299) == 0)
        #expect(popAndRun(&queue, now: 300) == 1)
        #expect(log.fired == [1])
        #expect(!queue.isActive(id))
        #expect(popAndRun(&queue, now: 10_000) == 0)
        #expect(log.fired == [1])
    }

    @Test func rearmLaterSeveralTimesBeforeTheOldDeadline() {
        var queue = TimerQueue()
        let log = FireLog()
        let id = queue.add(deadline: 10, action: log.action(1))
        for step in 1...50 { #expect(rearm(&queue, id, deadline: 10 + UInt64(step) * 10)) }
        for now in UInt64(0)..<510 { #expect(popAndRun(&queue, now: now) == 0) }
        #expect(popAndRun(&queue, now: 510) == 1)
        #expect(queue.activeCount == 0)
    }

    @Test func rearmEarlierFiresEarlyAndOnce() {
        var queue = TimerQueue()
        let log = FireLog()
        let id = queue.add(deadline: 300, action: log.action(1))
        #expect(rearm(&queue, id, deadline: 100))
        #expect(untilNext(&queue, now: 0) == 100)
        #expect(popAndRun(&queue, now: 99) == 0)
        #expect(popAndRun(&queue, now: 100) == 1)
        #expect(log.fired == [1])
        // The stale entry at 300 is dropped, not fired.
        #expect(popAndRun(&queue, now: 300) == 0)
        #expect(log.fired == [1])
        #expect(queue.activeCount == 0)
        #expect(untilNext(&queue, now: 300) == nil)
    }

    @Test func rearmEarlierThenLaterAgain() {
        var queue = TimerQueue()
        let log = FireLog()
        let id = queue.add(deadline: 100, action: log.action(1))
        #expect(rearm(&queue, id, deadline: 50))
        #expect(rearm(&queue, id, deadline: 200))
        #expect(popAndRun(&queue, now: 50) == 0)
        #expect(popAndRun(&queue, now: 100) == 0)
        #expect(popAndRun(&queue, now: 199) == 0)
        #expect(popAndRun(&queue, now: 200) == 1)
        #expect(popAndRun(&queue, now: 1000) == 0)
        #expect(log.fired == [1])
    }

    @Test func cancelPreventsFiringAndStaleTopIsSkipped() {
        var queue = TimerQueue()
        let log = FireLog()
        let first = queue.add(deadline: 100, action: log.action(1))
        let second = queue.add(deadline: 200, action: log.action(2))
        queue.cancel(first)
        #expect(!queue.isActive(first))
        #expect(queue.isActive(second))
        #expect(queue.activeCount == 1)
        #expect(untilNext(&queue, now: 0) == 200)
        #expect(popAndRun(&queue, now: 150) == 0)
        queue.cancel(second)
        #expect(queue.activeCount == 0)
        #expect(untilNext(&queue, now: 0) == nil)
        #expect(popAndRun(&queue, now: 1000) == 0)
        #expect(log.fired.isEmpty)
    }

    @Test func staleIDsAfterFireOrCancelAreHarmless() {
        var queue = TimerQueue()
        let log = FireLog()
        let fired = queue.add(deadline: 10, action: log.action(1))
        let cancelled = queue.add(deadline: 20, action: log.action(2))
        let survivor = queue.add(deadline: 500, action: log.action(3))
        queue.cancel(cancelled)
        #expect(popAndRun(&queue, now: 100) == 1)
        for stale in [fired, cancelled] {
            #expect(!queue.isActive(stale))
            #expect(!rearm(&queue, stale, deadline: 150))
            queue.cancel(stale)
            queue.cancel(stale)
        }
        #expect(queue.activeCount == 1)
        #expect(queue.isActive(survivor))
        #expect(popAndRun(&queue, now: 200) == 0)
        #expect(popAndRun(&queue, now: 500) == 1)
        #expect(log.fired == [1, 3])
        #expect(!queue.isActive(TimerID(index: 1_000, generation: 1)))
        #expect(!queue.isActive(TimerID(index: -1, generation: 1)))
        #expect(!rearm(&queue, TimerID(index: 1_000, generation: 1), deadline: 1))
        queue.cancel(TimerID(index: 1_000, generation: 1))
        #expect(queue.activeCount == 0)
    }

    @Test func indicesAreReusedWithNewGenerations() {
        var queue = TimerQueue()
        let log = FireLog()
        let old = queue.add(deadline: 100, action: log.action(1))
        queue.cancel(old)
        let new = queue.add(deadline: 200, action: log.action(2))
        #expect(new.index == old.index)
        #expect(new.generation != old.generation)
        #expect(new != old)
        // The stale handle must not touch the timer now living at the same index.
        queue.cancel(old)
        #expect(!rearm(&queue, old, deadline: 1))
        #expect(queue.isActive(new))
        #expect(popAndRun(&queue, now: 100) == 0)
        #expect(popAndRun(&queue, now: 200) == 1)
        #expect(log.fired == [2])

        // Many generations through one slot: every handle is distinct and only the newest is live.
        var seen: Set<TimerID> = [old, new]
        var previous = new
        for round in 0..<1000 {
            let id = queue.add(deadline: UInt64(round), action: log.action(round))
            #expect(id.index == old.index)
            #expect(seen.insert(id).inserted)
            #expect(!queue.isActive(previous))
            queue.cancel(id)
            previous = id
        }
        #expect(queue.activeCount == 0)
        #expect(popAndRun(&queue, now: 10_000) == 0)
    }

    @Test func popDueHonoursTheLimit() {
        var queue = TimerQueue()
        let log = FireLog()
        for token in 0..<5 { _ = queue.add(deadline: UInt64(10 + token), action: log.action(token)) }
        _ = queue.add(deadline: 1000, action: log.action(99))
        #expect(popAndRun(&queue, now: 100, limit: 2) == 2)
        #expect(log.fired == [0, 1])
        #expect(queue.activeCount == 4)
        #expect(untilNext(&queue, now: 100) == 0)
        #expect(popAndRun(&queue, now: 100, limit: 0) == 0)
        #expect(popAndRun(&queue, now: 100, limit: 10) == 3)
        #expect(log.fired == [0, 1, 2, 3, 4])
        #expect(queue.activeCount == 1)
    }

    @Test func staleEntriesDoNotCountAgainstTheLimit() {
        var queue = TimerQueue()
        let log = FireLog()
        var cancelled: [TimerID] = []
        for token in 0..<10 { cancelled.append(queue.add(deadline: 5, action: log.action(100 + token))) }
        for id in cancelled { queue.cancel(id) }
        _ = queue.add(deadline: 6, action: log.action(1))
        _ = queue.add(deadline: 7, action: log.action(2))
        #expect(popAndRun(&queue, now: 10, limit: 2) == 2)
        #expect(log.fired == [1, 2])
    }

    @Test func millisecondsUntilNextDeadline() {
        var queue = TimerQueue()
        #expect(untilNext(&queue, now: 0) == nil)
        let a = queue.add(deadline: 100) {}
        #expect(untilNext(&queue, now: 40) == 60)
        #expect(untilNext(&queue, now: 100) == 0)
        #expect(untilNext(&queue, now: 500) == 0, "overdue timers report 0, not a wrapped value")
        let b = queue.add(deadline: 30) {}
        #expect(untilNext(&queue, now: 0) == 30)
        queue.cancel(b)
        #expect(untilNext(&queue, now: 0) == 100)
        #expect(rearm(&queue, a, deadline: 20))
        #expect(untilNext(&queue, now: 0) == 20)
        queue.cancel(a)
        #expect(untilNext(&queue, now: 0) == nil)
        #expect(queue.activeCount == 0)
    }

    /// Random adds, re-arms (earlier and later), cancels and clock advances, checked after
    /// every step against a dictionary of deadlines.
    @Test(arguments: [1, 2, 3, 0xDEAD_BEEF, 20_240_601] as [UInt64])
    func randomizedAgainstReferenceModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var queue = TimerQueue()
        let log = FireLog()
        var now: UInt64 = 1000
        var reference: [Int: UInt64] = [:]  // token -> deadline of active timers
        var ids: [TimerID] = []  // token -> id
        var tokenOf: [TimerID: Int] = [:]

        // Sorted so that the run does not depend on Dictionary's per-process hash seed.
        func randomActive() -> Int? { reference.isEmpty ? nil : reference.keys.sorted().randomElement(using: &rng) }
        func randomStale() -> Int? {
            guard ids.count > reference.count else { return nil }
            for _ in 0..<20 {
                let token = Int.random(in: 0..<ids.count, using: &rng)
                if reference[token] == nil { return token }
            }
            return nil
        }
        func randomDeadline() -> UInt64 {
            switch UInt64.random(in: 0..<10, using: &rng) {
            case 0: now  // due immediately
            case 1: now - UInt64.random(in: 0...5, using: &rng)  // already overdue
            case 2: now + 5  // many ties
            default: now + UInt64.random(in: 0...400, using: &rng)
            }
        }
        func checkPop(limit: Int) {
            log.fired.removeAll()
            let due = Set(reference.filter { $0.value <= now }.keys)
            _ = popAndRun(&queue, now: now, limit: limit)
            #expect(Set(log.fired).count == log.fired.count, "a timer fired twice")
            #expect(Set(log.fired).isSubset(of: due), "fired a timer that was not due (seed \(seed), now \(now))")
            #expect(log.fired.count == min(limit, due.count), "seed \(seed), now \(now)")
            for token in log.fired {
                reference[token] = nil
                #expect(!queue.isActive(ids[token]))
            }
            if limit == .max, let wait = queue.millisecondsUntilNextDeadline(now: now) {
                #expect(wait > 0, "nothing may be due right after an unlimited popDue")
            }
        }

        for step in 0..<4000 {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30:
                let token = ids.count
                let deadline = randomDeadline()
                let id = queue.add(deadline: deadline, action: log.action(token))
                #expect(tokenOf[id] == nil, "TimerID reused: \(id)")
                tokenOf[id] = token
                ids.append(id)
                reference[token] = deadline
            case 30..<52:
                if let token = randomActive() {
                    let deadline = randomDeadline()
                    #expect(rearm(&queue, ids[token], deadline: deadline))
                    reference[token] = deadline
                }
            case 52..<57:
                if let token = randomStale() {
                    #expect(!rearm(&queue, ids[token], deadline: randomDeadline()))
                }
            case 57..<67:
                if let token = randomActive() {
                    queue.cancel(ids[token])
                    reference[token] = nil
                }
            case 67..<72:
                if let token = randomStale() { queue.cancel(ids[token]) }
            case 72..<95:
                now += UInt64.random(in: 0...25, using: &rng)
                checkPop(limit: .max)
            default:
                now += UInt64.random(in: 0...25, using: &rng)
                checkPop(limit: Int.random(in: 0...3, using: &rng))
            }

            #expect(queue.activeCount == reference.count)
            if let wait = queue.millisecondsUntilNextDeadline(now: now) {
                let earliest = reference.values.min()!
                #expect(wait <= (earliest > now ? earliest - now : 0), "reported a wake-up later than the earliest deadline")
            } else {
                #expect(reference.isEmpty)
            }
            if step % 97 == 0 {
                for (token, id) in ids.enumerated() { #expect(queue.isActive(id) == (reference[token] != nil)) }
            }
        }

        // Drain: everything left fires exactly once, at or after its deadline.
        var remaining = reference
        while !remaining.isEmpty {
            now += 50
            log.fired.removeAll()
            _ = popAndRun(&queue, now: now)
            for token in log.fired {
                #expect(remaining[token]! <= now)
                remaining[token] = nil
            }
            #expect(remaining.values.allSatisfy { $0 > now })
        }
        #expect(queue.activeCount == 0)
        #expect(untilNext(&queue, now: now) == nil)
    }
}
