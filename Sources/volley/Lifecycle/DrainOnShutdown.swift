import ServiceLifecycle
import VolleyServer

/// The TFTP server's place in `volley serve`'s service group: it serves until graceful
/// shutdown, then drains transfers in flight and stops.
///
/// Unlike `TFTPServer`'s own `run()`, it never starts the server: `volley serve` has
/// started it already, or left it stopped on purpose (`start_stopped`) for the control
/// plane to start.
struct DrainOnShutdown: Service {
    let server: TFTPServer

    func run() async throws {
        try? await gracefulShutdown()
        await server.drainAndStop()
    }
}
