import Logging
import ServiceLifecycle
import UnixSignals
import VolleyServer
import VolleyConfiguration
import VolleyControl

/// SIGHUP re-reads the configuration: limits and logging apply at once, a new root to new
/// transfers, and the control plane's token file is read anew. A broken file is logged in
/// one line and the running settings are kept.
struct ConfigurationReloader: Service {
    /// SIGHUP, trapped before the server starts (its default action would end volley).
    let signals: UnixSignalsSequence
    let server: TFTPServer
    let notifier: ServiceNotifier
    let logger: Logger
    let logSettings: LogSettings
    /// The control plane's token, when it runs.
    let controlToken: ControlToken?
    /// Reads the settings anew (defaults, file, flags).
    let load: @Sendable () throws -> VolleySettings

    /// Traps SIGHUP from now on.
    static func trap() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sighup)
    }

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    /// Re-reads the configuration; returns the reason when it is refused (then logged, and
    /// the running configuration stays). SIGHUP and `POST /v1/reload` both come here.
    @discardableResult
    func reload() -> String? {
        notifier.reloading()
        defer { notifier.ready(server.statistics, host: server.host, port: server.port) }
        do {
            let settings = try load()
            let level = try settings.parsedLogLevel()
            let format = try settings.parsedLogFormat()
            // Read before anything changes, so that a bad token file changes nothing.
            let newToken = try controlToken.map { try $0.read(file: settings.control.tokenFile) }
            try server.reload(settings.server)
            logSettings.level = level
            logSettings.format = format
            if let controlToken, let newToken { controlToken.use(newToken) }
            return nil
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
            return "\(error)"
        }
    }
}
