import VolleySystem
@testable import VolleyReactor

extension Reactor {
    /// Runs the loop in small steps until `condition` holds, at most `limit` milliseconds
    /// and 10 000 iterations; returns whether the condition was met.
    @discardableResult
    func run(untilWithin limit: UInt64 = 3000, step: Int = 10, _ condition: () -> Bool) -> Bool {
        let start = MonotonicClock.milliseconds()
        var iterations = 0
        while !condition() {
            if MonotonicClock.milliseconds() - start > limit || iterations >= 10_000 { return false }
            runOnce(maximumWaitMilliseconds: step)
            iterations += 1
        }
        return true
    }
}
