import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle
import VolleyServer

/// What the control plane serves on, and its limits.
public struct ControlPlaneConfiguration: Sendable {
    /// Where to listen.
    public var address: ControlAddress
    /// The token every request must carry (none: loopback and unix sockets only), re-read on reload.
    public var token: ControlToken
    /// The largest upload or fetch accepted.
    public var maximumUploadBytes: Int
    /// The time to live of a session created without one.
    public var sessionTTLSeconds: Int
    /// Whether fetches may copy `file://` URLs (any file volley can read) into the root.
    public var allowFileURLs: Bool

    public init(address: ControlAddress, token: ControlToken, maximumUploadBytes: Int, sessionTTLSeconds: Int, allowFileURLs: Bool = false)
    {
        self.address = address
        self.token = token
        self.maximumUploadBytes = maximumUploadBytes
        self.sessionTTLSeconds = sessionTTLSeconds
        self.allowFileURLs = allowFileURLs
    }
}

/// The HTTP control plane of a running Volley: the files API, start and stop of the TFTP
/// listener, sessions, `/metrics` and `/healthz`, as `openapi.yaml` describes them.
///
/// Runs on Hummingbird's own event loop threads and Swift's task pool, never on the
/// reactor thread; it reaches the server only through ``TFTPServer``'s thread-safe API.
/// A swift-service-lifecycle `Service`: serves until graceful shutdown.
public final class ControlPlane: Service {
    private let configuration: ControlPlaneConfiguration
    private let api: ControlAPI
    private let logger: Logger

    /// - Parameters:
    ///   - metrics: the observer of `server` whose series `GET /metrics` renders.
    ///   - events: the observer of `server` whose events `GET /v1/events` streams.
    ///   - reload: re-reads the configuration (`POST /v1/reload`), returning the one-line
    ///     reason when the new one is refused.
    public init(
        configuration: ControlPlaneConfiguration, server: TFTPServer, metrics: TransferMetrics, events: EventHub,
        health: ReactorHealth, reload: @escaping @Sendable () -> String? = { "no configuration file to reload" }, logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        api = ControlAPI(
            server: server, metrics: metrics, events: events, health: health,
            sessions: SessionTable(defaultTTLSeconds: configuration.sessionTTLSeconds),
            maximumUploadBytes: configuration.maximumUploadBytes, allowFileURLs: configuration.allowFileURLs,
            reload: reload, logger: logger)
    }

    /// Serves until graceful shutdown; expires sessions meanwhile.
    public func run() async throws {
        let router = Router()
        router.middlewares.add(RequestCountingMiddleware(metrics: api.metrics))
        router.middlewares.add(ErrorMiddleware())
        router.middlewares.add(AuthorizationMiddleware(token: configuration.token))
        // Paths read as they are: "boot/k.img", not JSONEncoder's default "boot\/k.img".
        try api.registerHandlers(
            on: router, configuration: .init(jsonEncodingOptions: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
            middlewares: [DateHeaderMiddleware()])
        // The live page at `/` (boards and their transfers, from the API above).
        LivePage.register(on: router)
        let address = configuration.address
        let logger = logger
        let application = Application(
            responder: FilePathRewritingResponder(base: router.buildResponder()),
            server: .http1(configuration: .init(additionalChannelHandlers: [ContinueHandler()])),
            configuration: .init(address: address.bindAddress, serverName: "volley"),
            onServerRunning: { channel in
                logger.info("control plane listening on \(ControlPlane.describe(address, bound: channel.localAddress))")
            },
            logger: logger.withLevel(atLeast: .warning))
        // The application's own service group follows this service's graceful shutdown:
        // requests in flight finish, then `run()` returns and the expiry loop is cancelled.
        // Event streams (GET /v1/events) never finish by themselves, so they are ended then.
        let events = api.events
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.expireSessions() }
                group.addTask { await Self.sendKeepAlives(to: events) }
                try await application.run()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            events.endStreams()
        }
    }

    /// Ends expired sessions once a second, removing their files, until cancelled.
    private func expireSessions() async {
        while !Task.isCancelled {
            for session in api.sessions.endExpired() { api.removeFiles(of: session, because: "expired") }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Asks the event streams for a keep-alive comment every ``EventHub/keepAliveSeconds``, until cancelled.
    private static func sendKeepAlives(to events: EventHub) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(EventHub.keepAliveSeconds))
            events.sendKeepAlives()
        }
    }

    private static func describe(_ address: ControlAddress, bound: SocketAddress?) -> String {
        switch address {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): "http://\(host.contains(":") ? "[\(host)]" : host):\(bound?.port ?? port)"
        }
    }
}

extension ControlAddress {
    var bindAddress: BindAddress {
        switch self {
        case .unix(let path): .unixDomainSocket(path: path)
        case .tcp(let host, let port): .hostname(host, port: port)
        }
    }
}

extension Logger {
    /// A copy that logs at `level` or above (Hummingbird's per-request lines stay out of the log).
    func withLevel(atLeast level: Logger.Level) -> Logger {
        var copy = self
        copy.logLevel = max(copy.logLevel, level)
        return copy
    }
}
