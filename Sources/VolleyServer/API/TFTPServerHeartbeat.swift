/// Work the server runs on its reactor thread at a fixed interval, with its current totals.
///
/// Because it runs on the loop itself, a stuck loop stops the heartbeat: that is what a
/// systemd watchdog ping needs.
public struct TFTPServerHeartbeat: Sendable {
    /// Time between two calls, in milliseconds.
    public var intervalMilliseconds: Int
    /// Called on the reactor thread; keep it short and non-blocking.
    public var action: @Sendable (TFTPServerStatistics) -> Void

    /// Creates a heartbeat calling `action` every `intervalMilliseconds`.
    public init(intervalMilliseconds: Int, action: @escaping @Sendable (TFTPServerStatistics) -> Void) {
        self.intervalMilliseconds = max(1, intervalMilliseconds)
        self.action = action
    }
}
