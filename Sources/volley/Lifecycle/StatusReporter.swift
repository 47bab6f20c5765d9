import Logging
import ServiceLifecycle
import UnixSignals
import VolleyServer

/// SIGUSR1 logs one status line (its default action would end volley).
struct StatusReporter: Service {
    /// SIGUSR1, trapped before the server starts.
    let signals: UnixSignalsSequence
    let server: TFTPServer
    let logger: Logger

    /// Traps SIGUSR1 from now on.
    static func trap() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sigusr1)
    }

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice(
                "status: \(ServiceNotifier.statusText(server.statistics)); serving \(server.configuration.rootDirectory) on \(server.host) port \(server.port)"
            )
        }
    }
}
