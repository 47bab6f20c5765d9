import Logging
import Synchronization
import VolleyReactor
import VolleySystem

/// A read-only TFTP server on epoll reactor threads (one per core by default), with the file-management API of
/// the Jumpstarter TFTP driver (`start`, `stop`, `listFiles`, `putFile`, …).
///
/// Thread-safe: call it from any thread or task. As a swift-service-lifecycle `Service`,
/// ``run()`` serves until graceful shutdown, then drains transfers in flight.
public final class TFTPServer: Sendable {
    let logger: Logger
    private let heartbeat: TFTPServerHeartbeat?
    private let state: Mutex<State>
    private let statisticsObserver = StatisticsObserver()
    private let observers: [any TFTPServerObserver]
    let origin: (any TFTPOrigin)?
    /// Origin fetches in flight, shared by the reactors and by ``BootFiles``: one fetch per name.
    let originRefreshes = OriginRefreshes()
    let createdFiles = Mutex<Set<String>>([])

    /// Where the server is in its life; the running case holds what it runs on.
    private enum Phase {
        case stopped
        case starting
        case running(RunningServer)
    }

    private struct State {
        var configuration: TFTPServerConfiguration
        var phase = Phase.stopped
    }

    /// Creates a stopped server.
    ///
    /// - Parameters:
    ///   - configuration: the root, address and protocol limits.
    ///   - logger: receives one line per transfer and refusal, and the lifecycle lines.
    ///   - heartbeat: runs on the reactor thread at its interval while the server runs.
    ///   - observers: receive every ``TFTPServerEvent`` on the reactor thread.
    ///   - origin: where names missing from the root are fetched from (`origin:`), or nil.
    public init(
        configuration: TFTPServerConfiguration = TFTPServerConfiguration(),
        logger: Logger = Logger(label: "volley"),
        heartbeat: TFTPServerHeartbeat? = nil,
        observers: [any TFTPServerObserver] = [],
        origin: (any TFTPOrigin)? = nil
    ) {
        self.logger = logger
        self.heartbeat = heartbeat
        self.origin = origin
        self.state = Mutex(State(configuration: configuration))
        self.observers = [statisticsObserver, TransferLogObserver(logger: logger)] + observers
    }

    /// Counts a connection of another protocol against the running server's transfer limits:
    /// the release to call when it closes, or nil when the server is at a limit. While the
    /// TFTP service is stopped, there is nothing to count against and every connection is admitted.
    func admitConnection(from client: SocketAddress) -> (@Sendable () -> Void)? {
        let admission: SharedAdmission? = state.withLock {
            if case .running(let server) = $0.phase { return server.admission }
            return nil
        }
        guard let admission else { return {} }
        let key = client.ipString
        guard admission.claimConnection(client: key) == .admit else { return nil }
        return { admission.connectionEnded(client: key) }
    }

    /// Hands `event` to the observers, for a protocol served beside TFTP (``BootFiles/report(_:)``).
    func report(_ event: TFTPServerEvent) {
        for observer in observers { observer.serverEvent(event) }
    }

    /// The settings in force (``host`` and ``port`` report what was actually bound).
    public var configuration: TFTPServerConfiguration { state.withLock { $0.configuration } }

    // MARK: - Server control

    /// Binds the listening socket (or adopts ``TFTPServerConfiguration/inheritedSockets``)
    /// and starts serving; returns once requests are accepted.
    ///
    /// - Throws: ``TFTPError/serverAlreadyRunning``; ``TFTPError/invalidConfiguration(_:)``
    ///   for bad settings or root; ``TFTPError/cannotListen(address:reason:)`` when the
    ///   address cannot be bound.
    public func start() throws(TFTPError) {
        let configuration = try state.withLock { (state: inout State) throws(TFTPError) -> TFTPServerConfiguration in
            guard case .stopped = state.phase else { throw .serverAlreadyRunning }
            if let problem = state.configuration.validationError() { throw .invalidConfiguration(problem) }
            state.phase = .starting
            return state.configuration
        }
        // Binding and starting the reactor happen outside the lock: `host`, `statistics`
        // and the file API stay answerable meanwhile.
        let running: RunningServer
        do {
            running = try RunningServer.start(
                configuration, observers: observers, origin: origin, originRefreshes: originRefreshes, logger: logger,
                heartbeat: heartbeat, statistics: { [statisticsObserver] in statisticsObserver.statistics })
        } catch {
            state.withLock { $0.phase = .stopped }
            throw error
        }
        state.withLock { $0.phase = .running(running) }
        logger.info(
            "\(running.reactorCount) reactor thread\(running.reactorCount == 1 ? "" : "s")\(configuration.reactors == 0 ? " (reactors: auto, one per CPU)" : "")"
        )
        // Scripts read the port from the end of this line: keep it last.
        for address in running.boundAddresses {
            logger.info("serving \(configuration.rootDirectory) on \(address.ipString) port \(address.port)")
        }
    }

    /// Stops taking new requests; transfers in flight go on until they end or ``stop()``.
    /// - Throws: ``TFTPError/serverNotRunning``.
    public func stopAcceptingRequests() throws(TFTPError) {
        try running().execute { $0.stopAccepting() }
    }

    /// Applies a new configuration to the running server: limits at once, a new root for
    /// new transfers. `host`, `port` and sockets need a restart and are kept. Transfers in
    /// flight finish as they started.
    /// - Throws: ``TFTPError/invalidConfiguration(_:)`` (then nothing changes) or
    ///   ``TFTPError/serverNotRunning``.
    public func reload(_ newConfiguration: TFTPServerConfiguration) throws(TFTPError) {
        if let problem = newConfiguration.validationError() { throw .invalidConfiguration(problem) }
        let server = try running()
        let old = configuration
        let newRoot = newConfiguration.rootDirectory == old.rootDirectory ? nil : try Self.openRoot(newConfiguration.rootDirectory)
        var applied = newConfiguration
        applied.host = old.host
        applied.port = old.port
        applied.inheritedSockets = old.inheritedSockets
        applied.reactors = old.reactors
        applied.ioUring = old.ioUring
        if newConfiguration.host != old.host || newConfiguration.port != old.port {
            logger.warning("host and port changes take effect after a restart; still serving on the old address")
        }
        if newConfiguration.reactors != old.reactors || newConfiguration.ioUring != old.ioUring {
            logger.warning("a change of reactors or io_uring takes effect after a restart")
        }
        state.withLock { $0.configuration = applied }
        let frozen = applied
        // If the server stops first, the work is dropped and the new root closes with it.
        server.execute { $0.apply(frozen, root: newRoot) }
        logger.info("configuration reloaded\(newRoot == nil ? "" : "; new transfers are served from \(applied.rootDirectory)")")
    }

    /// Stops serving: ends transfers in flight and closes every socket.
    /// - Throws: ``TFTPError/serverNotRunning`` when the server is not running.
    public func stop() throws(TFTPError) {
        let server = try state.withLock { (state: inout State) throws(TFTPError) -> RunningServer in
            guard case .running(let server) = state.phase else { throw .serverNotRunning }
            state.phase = .stopped
            return server
        }
        server.stop()
        logger.info("stopped serving \(configuration.rootDirectory)")
        if configuration.removeCreatedFilesOnStop { removeCreatedFiles() }
    }

    /// Stops taking requests, lets transfers in flight finish for up to
    /// ``TFTPServerConfiguration/drainTimeoutMilliseconds`` (or until the task is
    /// cancelled or ``stop()`` is called elsewhere), then stops.
    public func drainAndStop() async {
        guard (try? stopAcceptingRequests()) != nil else { return }
        let limit = configuration.drainTimeoutMilliseconds
        let active = statistics.activeTransfers
        if active > 0, limit > 0 {
            logger.notice("letting \(active) transfer(s) finish for up to \(limit) ms")
            let deadline = MonotonicClock.milliseconds() + UInt64(limit)
            while isRunning, statistics.activeTransfers > 0, MonotonicClock.milliseconds() < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let left = statistics.activeTransfers
            if isRunning, left > 0 { logger.warning("drain is over: ending \(left) transfer(s)") }
        }
        try? stop()
    }

    private func running() throws(TFTPError) -> RunningServer {
        try state.withLock { (state: inout State) throws(TFTPError) -> RunningServer in
            guard case .running(let server) = state.phase else { throw .serverNotRunning }
            return server
        }
    }

    static func openRoot(_ path: String) throws(TFTPError) -> ConfinedRoot {
        do throws(FileAccessError) {
            return try ConfinedRoot(path: path)
        } catch {
            // The detail already names the root directory.
            throw .invalidConfiguration(error.logDetail)
        }
    }

    /// Whether the server is serving.
    public var isRunning: Bool {
        state.withLock { if case .running = $0.phase { true } else { false } }
    }

    /// The address bound (e.g. `"127.0.0.1"`), or the configured host when not running.
    public var host: String {
        state.withLock { state in
            if case .running(let server) = state.phase, let first = server.boundAddresses.first { return first.ipString }
            return state.configuration.host
        }
    }

    /// The port bound (the real one when configured as 0), or the configured port when not running.
    public var port: Int {
        state.withLock { state in
            if case .running(let server) = state.phase, let first = server.boundAddresses.first { return Int(first.port) }
            return state.configuration.port
        }
    }

    /// Totals since the server was created: transfers, bytes, retransmissions.
    public var statistics: TFTPServerStatistics { statisticsObserver.statistics }
}
