import Synchronization
import VolleyServer
import VolleySystem

/// The time of the reactor's last heartbeat, for `GET /healthz`.
///
/// ``beat()`` runs on the reactor thread from the server's heartbeat, so a stuck loop shows
/// as a growing age.
public final class ReactorHealth: Sendable {
    private let lastBeatMilliseconds = Atomic<UInt64>(0)
    /// The age beyond which the reactor counts as stalled.
    public let stallMilliseconds: UInt64

    /// - Parameter stallMilliseconds: a heartbeat older than this makes `/healthz` answer 503.
    public init(stallMilliseconds: UInt64 = 5000) {
        self.stallMilliseconds = stallMilliseconds
    }

    /// Records a heartbeat now.
    public func beat() {
        lastBeatMilliseconds.store(MonotonicClock.milliseconds(), ordering: .relaxed)
    }

    /// Seconds since the last heartbeat, nil before the first.
    public var ageSeconds: Double? {
        let last = lastBeatMilliseconds.load(ordering: .relaxed)
        guard last > 0 else { return nil }
        return Double(MonotonicClock.milliseconds() &- last) / 1000
    }
}
