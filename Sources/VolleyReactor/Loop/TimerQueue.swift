/// A handle to a timer in a ``TimerQueue``; stale handles are harmless.
public struct TimerID: Hashable, Sendable {
    let index: Int32
    let generation: UInt32
}

/// One-shot timers with millisecond deadlines and amortised O(1) re-arming.
///
/// A binary heap of (deadline, timer) entries with lazy rescheduling: moving a
/// deadline *later* (what a transfer does after every window) only rewrites the
/// timer's record; the heap is touched again when the old entry surfaces. Moving
/// it earlier pushes a fresh entry and the old one is recognised as stale.
struct TimerQueue {
    private struct Timer {
        var generation: UInt32 = 0
        var active = false
        var deadline: UInt64 = 0
        /// The deadline of the heap entry that currently stands for this timer.
        var queuedDeadline: UInt64 = 0
        var action: (() -> Void)?
    }

    private struct Entry {
        var deadline: UInt64
        var index: Int32
        var generation: UInt32
    }

    private var timers: [Timer] = []
    private var freeIndices: [Int32] = []
    private var heap: [Entry] = []
    private(set) var activeCount = 0

    /// Adds a timer firing at `deadline` (monotonic milliseconds).
    mutating func add(deadline: UInt64, action: @escaping () -> Void) -> TimerID {
        let index: Int32
        if let reused = freeIndices.popLast() {
            index = reused
        } else {
            index = Int32(timers.count)
            timers.append(Timer())
        }
        timers[Int(index)].generation &+= 1
        timers[Int(index)].active = true
        timers[Int(index)].deadline = deadline
        timers[Int(index)].queuedDeadline = deadline
        timers[Int(index)].action = action
        activeCount += 1
        push(Entry(deadline: deadline, index: index, generation: timers[Int(index)].generation))
        return TimerID(index: index, generation: timers[Int(index)].generation)
    }

    /// Moves an active timer to a new deadline; returns false if the timer is gone.
    @discardableResult
    mutating func rearm(_ id: TimerID, deadline: UInt64) -> Bool {
        guard isActive(id) else { return false }
        let i = Int(id.index)
        timers[i].deadline = deadline
        if deadline < timers[i].queuedDeadline {
            timers[i].queuedDeadline = deadline
            push(Entry(deadline: deadline, index: id.index, generation: id.generation))
        }
        return true
    }

    /// Cancels a timer; its heap entries are dropped when they surface.
    mutating func cancel(_ id: TimerID) {
        guard isActive(id) else { return }
        release(Int(id.index))
    }

    /// Whether `id` still names a pending timer.
    func isActive(_ id: TimerID) -> Bool {
        let i = Int(id.index)
        return i >= 0 && i < timers.count && timers[i].active && timers[i].generation == id.generation
    }

    /// Milliseconds until the earliest entry, nil when there are no timers.
    mutating func millisecondsUntilNextDeadline(now: UInt64) -> UInt64? {
        discardStaleTop()
        guard let top = heap.first else { return nil }
        return top.deadline > now ? top.deadline - now : 0
    }

    /// Removes and returns the actions of every timer due at `now` (at most `limit`).
    mutating func popDue(now: UInt64, limit: Int = .max, into due: inout [() -> Void]) {
        var taken = 0
        while taken < limit, let top = heap.first, top.deadline <= now {
            popTop()
            let i = Int(top.index)
            guard timers[i].active, timers[i].generation == top.generation,
                timers[i].queuedDeadline == top.deadline
            else { continue }
            if timers[i].deadline > now {
                // Re-armed later since this entry was queued: requeue at the real deadline.
                timers[i].queuedDeadline = timers[i].deadline
                push(Entry(deadline: timers[i].deadline, index: top.index, generation: top.generation))
                continue
            }
            if let action = timers[i].action { due.append(action) }
            release(i)
            taken += 1
        }
    }

    private mutating func release(_ i: Int) {
        timers[i].active = false
        timers[i].action = nil
        timers[i].generation &+= 1
        freeIndices.append(Int32(i))
        activeCount -= 1
    }

    private mutating func discardStaleTop() {
        while let top = heap.first {
            let t = timers[Int(top.index)]
            if t.active, t.generation == top.generation, t.queuedDeadline == top.deadline { return }
            popTop()
        }
    }

    // MARK: - Binary heap

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].deadline <= heap[child].deadline { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count, heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
