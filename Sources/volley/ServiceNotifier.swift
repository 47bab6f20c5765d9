import Foundation
import Synchronization
import VolleyServer
import VolleySystem

/// Tells systemd how the service is doing: readiness, live status, watchdog pings,
/// reloads and shutdown. Every call is a no-op outside systemd (no `NOTIFY_SOCKET`).
///
/// An observer of the server's events: the start of a drain becomes `STOPPING=1`.
final class ServiceNotifier: TFTPServerObserver {
    /// The watchdog period systemd asked for, if any.
    let watchdogMicroseconds = Systemd.watchdogMicroseconds()
    private let lastStatus = Mutex<(time: UInt64, text: String)>((0, ""))
    /// Set once the process is on its way out: only then does a drain mean STOPPING=1
    /// (the control plane may stop the TFTP listener while the service stays up).
    private let processStopping = Atomic(false)

    /// How often the reactor should call ``beat(_:)``: half the watchdog period, at most 1 s.
    var heartbeatMilliseconds: Int {
        guard let watchdogMicroseconds else { return 1000 }
        return max(1, min(1000, Int(watchdogMicroseconds / 2000)))
    }

    /// The heartbeat to give the server: pings the watchdog from the reactor thread
    /// (so a stuck loop stops the pings) and refreshes STATUS at most once a second.
    var heartbeat: TFTPServerHeartbeat {
        TFTPServerHeartbeat(intervalMilliseconds: heartbeatMilliseconds) { [self] statistics in
            beat(statistics)
        }
    }

    func beat(_ statistics: TFTPServerStatistics) {
        if watchdogMicroseconds != nil { Systemd.notify("WATCHDOG=1") }
        let now = MonotonicClock.milliseconds()
        let text = Self.statusText(statistics)
        let due = lastStatus.withLock { last -> Bool in
            guard now &- last.time >= 1000, text != last.text else { return false }
            last = (now, text)
            return true
        }
        if due { Systemd.notify("STATUS=\(text)") }
    }

    /// READY=1 with a first status line and the address bound, as `X_VOLLEY_HOST=` and
    /// `X_VOLLEY_PORT=` (systemd ignores `X_` fields; a supervisor such as the Jumpstarter
    /// driver reads the real port from them after `--port 0`).
    func ready(_ statistics: TFTPServerStatistics, host: String, port: Int) {
        Systemd.notify("READY=1\nSTATUS=\(Self.statusText(statistics))\nX_VOLLEY_HOST=\(host)\nX_VOLLEY_PORT=\(port)")
    }

    /// RELOADING=1 before re-reading the configuration.
    func reloading() {
        Systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(Systemd.monotonicMicroseconds())")
    }

    /// STOPPING=1 with a reason.
    func stopping(_ status: String) {
        Systemd.notify("STOPPING=1\nSTATUS=\(status)")
    }

    /// The process is shutting down (SIGTERM/SIGINT): the coming drain is the service stopping.
    func beginStopping() {
        processStopping.store(true, ordering: .relaxed)
    }

    func serverEvent(_ event: TFTPServerEvent) {
        if case .stoppedAccepting(let active) = event, processStopping.load(ordering: .relaxed) {
            stopping(active > 0 ? "Draining \(active) transfers" : "Stopping")
        }
    }

    /// "3 transfers active; 120 served; 1.20 GB sent".
    static func statusText(_ statistics: TFTPServerStatistics) -> String {
        let gigabytes = Double(statistics.bytesSent) / 1e9
        return "\(statistics.activeTransfers) transfers active; \(statistics.completedTransfers) served, "
            + "\(statistics.endedTransfers) ended otherwise; \(String(format: "%.2f", gigabytes)) GB sent"
    }
}
