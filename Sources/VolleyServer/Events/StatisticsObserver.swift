import Synchronization

/// Keeps ``TFTPServerStatistics`` from the events, readable from any thread.
final class StatisticsObserver: TFTPServerObserver {
    private let totals = Mutex(TFTPServerStatistics())

    func serverEvent(_ event: TFTPServerEvent) {
        totals.withLock { $0.count(event) }
    }

    /// The totals now.
    var statistics: TFTPServerStatistics { totals.withLock { $0 } }
}
