import Synchronization
import VolleySystem

/// When each reactor of a server last went round its loop, so that the heartbeat (the
/// systemd watchdog, `/healthz`) stops when *any* reactor is stuck, not only the first.
final class ReactorLiveness: Sendable {
    private let lastBeats: Mutex<[UInt64]>

    init(reactors: Int, now: UInt64) {
        lastBeats = Mutex(Array(repeating: now, count: reactors))
    }

    /// Notes that `reactor` ran its loop at `now` (monotonic milliseconds).
    func beat(_ reactor: Int, now: UInt64) {
        lastBeats.withLock { $0[reactor] = max($0[reactor], now) }
    }

    /// The reactors that have not gone round their loop for longer than `milliseconds`.
    func stuckReactors(longerThan milliseconds: UInt64, now: UInt64) -> [Int] {
        lastBeats.withLock { beats in beats.indices.filter { now > beats[$0] && now - beats[$0] > milliseconds } }
    }
}
