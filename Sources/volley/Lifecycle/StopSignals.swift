import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VolleyServer

/// SIGTERM and SIGINT: the first one shuts the service group down gracefully (the server
/// drains), a second one stops the server at once, ending the transfers still in flight.
///
/// The signals are trapped before the server starts (see ``trap()``), so that a signal
/// arriving right after READY is handled, not fatal. Listed first in the group, this
/// service is asked to shut down last: it keeps listening while the server drains.
struct StopSignals: Service {
    let signals: UnixSignalsSequence
    let server: TFTPServer
    let notifier: ServiceNotifier
    let logger: Logger
    let group: ServiceGroupHandle

    /// Traps SIGTERM and SIGINT from now on.
    static func trap() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sigterm, .sigint)
    }

    func run() async throws {
        var seen = 0
        for await signal in signals.cancelOnGracefulShutdown() {
            seen += 1
            if seen == 1 {
                logger.info("\(signal): shutting down (send it again to stop at once)")
                notifier.beginStopping()
                if !server.isRunning { notifier.stopping("Stopping") }
                await group.triggerGracefulShutdown()
            } else {
                logger.notice("second signal: stopping now, ending \(server.statistics.activeTransfers) transfer(s)")
                try? server.stop()
            }
        }
    }
}

/// The service group, handed to services created before it.
final class ServiceGroupHandle: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)

    func set(_ group: ServiceGroup) { self.group.withLock { $0 = group } }

    func triggerGracefulShutdown() async {
        if let group = group.withLock({ $0 }) { await group.triggerGracefulShutdown() }
    }
}
