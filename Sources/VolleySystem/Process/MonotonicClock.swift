import Glibc

/// Milliseconds on the monotonic clock, the reactor's only notion of time.
public enum MonotonicClock {
    /// Now, in milliseconds since an arbitrary fixed point (boot).
    @inline(__always)
    public static func milliseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1000 &+ UInt64(spec.tv_nsec) / 1_000_000
    }
}
