import CoreMetrics
import Prometheus
import VolleyServer

/// Turns the server's typed events into Prometheus series through swift-metrics.
///
/// Called on the reactor thread: each update is a lock-free counter or a short locked
/// histogram update, never I/O. Per-label handles are made once per label value and kept.
public final class TransferMetrics: TFTPServerObserver, Sendable {
    /// Where the series live; ``ControlPlane`` renders it at `GET /metrics`.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let active: Meter
    private let bytesSent: CoreMetrics.Counter
    private let retransmissions: CoreMetrics.Counter
    private let duration: CoreMetrics.Timer
    private let blockSize: Recorder
    private let windowSize: Recorder

    /// Creates the series in `registry` (a new one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ]
        factory.valueHistogramBuckets = [
            "volley_negotiated_block_size": [512, 1024, 1428, 1432, 1468, 4096, 8192, 16384, 32768, 65464],
            "volley_negotiated_window_size": [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024],
        ]
        self.factory = factory
        active = Meter(label: "volley_transfers_active", factory: factory)
        bytesSent = CoreMetrics.Counter(label: "volley_bytes_sent_total", factory: factory)
        retransmissions = CoreMetrics.Counter(label: "volley_retransmissions_total", factory: factory)
        duration = CoreMetrics.Timer(label: "volley_transfer_duration_seconds", factory: factory)
        blockSize = Recorder(label: "volley_negotiated_block_size", factory: factory)
        windowSize = Recorder(label: "volley_negotiated_window_size", factory: factory)
        active.set(0)
    }

    public func serverEvent(_ event: TFTPServerEvent) {
        switch event {
        case .transferStarted(let transfer):
            active.increment()
            blockSize.record(transfer.blockSize)
            windowSize.record(transfer.windowSize)
        case .transferFinished(let report):
            active.decrement()
            counter("volley_transfers_total", [("outcome", report.outcome.label)]).increment()
            bytesSent.increment(by: Int64(clamping: report.bytesSent))
            retransmissions.increment(by: Int64(report.retransmissions))
            duration.recordNanoseconds(Int64(report.durationSeconds * 1e9))
        case .requestRefused(let refused):
            let code = refused.errorCode.map(String.init) ?? "none"
            counter("volley_requests_refused_total", [("code", code), ("reason", refused.reason.rawValue)]).increment()
        case .transferProgress, .listening, .stoppedAccepting, .reloaded:
            break
        }
    }

    /// Counts one control-plane request by method and status.
    public func countControlRequest(method: String, status: Int) {
        counter("volley_control_requests_total", [("method", method), ("status", String(status))]).increment()
    }

    /// The Prometheus text exposition of every series.
    public func render() -> String { registry.emitToString() }

    /// The counter for `label` and `dimensions`; the registry hands back the same one each time.
    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }
}
