import Glibc

/// Process resource limits that a busy server wants raised.
public enum ResourceLimits {
    /// Raises the soft open-files limit to the hard limit; returns the new soft limit.
    @discardableResult
    public static func raiseOpenFilesLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
