import Foundation
import Logging
import VolleyReactor
import VolleyServer

/// The main thread's life after the server started: SIGHUP reloads, the first SIGTERM or
/// SIGINT drains transfers in flight (up to the drain time), a second one stops at once.
struct ServiceLifecycle {
    let server: TFTPServer
    let notifier: ServiceNotifier
    let signals: SignalInbox
    let logger: Logger
    let drainTimeoutMilliseconds: Int
    /// Re-reads the settings; throws a one-line reason when they are broken.
    let reloadSettings: () throws -> VolleySettings
    let logLevel: ReloadableLogLevel

    /// Returns when the server has stopped.
    func run() {
        while true {
            guard let signal = signals.next() else { continue }
            if signal == SIGHUP {
                reload()
                continue
            }
            shutDown(after: signal)
            return
        }
    }

    private func reload() {
        notifier.reloading()
        defer { notifier.ready(server.statistics, host: server.host, port: server.port) }
        do {
            let settings = try reloadSettings()
            let level = try settings.parsedLogLevel()
            try server.reload(settings.serverConfiguration)
            logLevel.level = level
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
    }

    private func shutDown(after signal: Int32) {
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        try? server.stopAcceptingRequests()
        let active = server.statistics.activeTransfers
        if active > 0, drainTimeoutMilliseconds > 0 {
            notifier.stopping("Draining \(active) transfers")
            logger.notice("\(name): letting \(active) transfer(s) finish for up to \(drainTimeoutMilliseconds) ms (send it again to stop now)")
            drain(signalName: name)
        } else {
            notifier.stopping("Stopping")
        }
        try? server.stop()
    }

    private func drain(signalName: String) {
        let deadline = MonotonicClock.milliseconds() + UInt64(drainTimeoutMilliseconds)
        while MonotonicClock.milliseconds() < deadline {
            if server.statistics.activeTransfers == 0 { return }
            if let again = signals.next(timeoutMilliseconds: 50), again != SIGHUP {
                logger.notice("second signal: stopping now, ending \(server.statistics.activeTransfers) transfer(s)")
                return
            }
        }
        logger.warning("drain time is over: ending \(server.statistics.activeTransfers) transfer(s)")
    }
}
