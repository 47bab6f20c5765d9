import Glibc
import Logging
import Synchronization
import VolleyReactor

/// A read-only TFTP server on one epoll reactor thread, with the file-management API of
/// the Jumpstarter TFTP driver (`start`, `stop`, `listFiles`, `putFile`, …).
///
/// Thread-safe: call it from any thread or task.
public final class TFTPServer: Sendable {
    private let logger: Logger
    private let heartbeat: TFTPServerHeartbeat?
    private let state: Mutex<RunState>
    private let statisticsBox = StatisticsBox()
    private let createdFiles = Mutex<Set<String>>([])

    private struct RunState: @unchecked Sendable {
        var configuration: TFTPServerConfiguration
        var thread: ReactorThread?
        var core: CoreBox?
        var boundAddresses: [SocketAddress] = []
    }

    /// Creates a stopped server. `logger` receives one line per transfer and the lifecycle
    /// lines; `heartbeat`, if given, runs on the reactor thread while the server runs.
    public init(
        configuration: TFTPServerConfiguration = TFTPServerConfiguration(),
        logger: Logger = Logger(label: "volley"),
        heartbeat: TFTPServerHeartbeat? = nil
    ) {
        self.logger = logger
        self.heartbeat = heartbeat
        self.state = Mutex(RunState(configuration: configuration))
    }

    /// File management works on the root in force (it follows a reload).
    private var store: RootDirectoryStore { RootDirectoryStore(rootDirectory: configuration.rootDirectory) }

    /// The settings in force (``host`` and ``port`` report what was actually bound).
    public var configuration: TFTPServerConfiguration { state.withLock { $0.configuration } }

    // MARK: - Server control

    /// Binds the listening socket (or adopts ``TFTPServerConfiguration/inheritedSockets``)
    /// and starts serving; returns once requests are accepted.
    public func start() throws(TFTPError) {
        try state.withLock { (state: inout RunState) throws(TFTPError) in
            guard state.thread == nil else { throw .serverAlreadyRunning }
            let configuration = state.configuration
            if let problem = configuration.validationError() { throw .invalidConfiguration(problem) }
            ResourceLimits.raiseOpenFilesLimit()
            let root = try Self.openRoot(configuration.rootDirectory)
            let listeners: [Listener]
            do throws(TFTPError) {
                listeners = configuration.inheritedSockets.isEmpty
                    ? try ListenerSockets.bind(configuration) : try ListenerSockets.adopt(configuration.inheritedSockets)
            } catch {
                root.close()
                throw error
            }
            let box = CoreBox()
            let (logger, statistics, heartbeat) = (self.logger, self.statisticsBox, self.heartbeat)
            do {
                state.thread = try ReactorThread.start(name: "volley-reactor") { reactor in
                    let core = try ServerCore(
                        reactor: reactor, listeners: listeners, root: root,
                        configuration: configuration, logger: logger, statistics: statistics)
                    if let heartbeat { core.startHeartbeat(heartbeat) }
                    box.core = core
                }
            } catch {
                listeners.forEach { closeDescriptor($0.descriptor) }
                root.close()
                throw .io("cannot start the reactor: \(error)")
            }
            state.core = box
            state.boundAddresses = listeners.map(\.address)
            for listener in listeners {
                logger.info("serving \(configuration.rootDirectory) on \(listener.address.ipString) port \(listener.address.port)")
            }
        }
    }

    /// Stops taking new requests; transfers in flight go on until they end or ``stop()``.
    public func stopAcceptingRequests() throws(TFTPError) {
        let (thread, box) = try running()
        thread.execute { _ in box.core?.stopListening() }
        logger.info("no longer accepting requests; \(statistics.activeTransfers) transfer(s) in flight")
    }

    /// Applies a new configuration to the running server: limits at once, a new root for
    /// new transfers. `host`, `port` and sockets need a restart and are kept. On error
    /// (e.g. a missing root) nothing changes.
    public func reload(_ newConfiguration: TFTPServerConfiguration) throws(TFTPError) {
        if let problem = newConfiguration.validationError() { throw .invalidConfiguration(problem) }
        let (thread, box) = try running()
        let old = configuration
        let newRoot = newConfiguration.rootDirectory == old.rootDirectory ? nil : try Self.openRoot(newConfiguration.rootDirectory)
        var applied = newConfiguration
        applied.host = old.host
        applied.port = old.port
        applied.inheritedSockets = old.inheritedSockets
        if newConfiguration.host != old.host || newConfiguration.port != old.port {
            logger.warning("host and port changes take effect after a restart; still serving on the old address")
        }
        state.withLock { $0.configuration = applied }
        let frozen = applied
        thread.execute { _ in box.core?.apply(frozen, root: newRoot) }
        logger.info("configuration reloaded\(newRoot == nil ? "" : "; new transfers are served from \(applied.rootDirectory)")")
    }

    /// Stops serving: ends transfers in flight and closes every socket.
    /// Throws ``TFTPError/serverNotRunning`` when the server is not running.
    public func stop() throws(TFTPError) {
        let (thread, box) = try state.withLock { (state: inout RunState) throws(TFTPError) -> (ReactorThread, CoreBox) in
            guard let thread = state.thread, let box = state.core else { throw .serverNotRunning }
            state.thread = nil
            state.core = nil
            state.boundAddresses = []
            return (thread, box)
        }
        thread.execute { _ in
            box.core?.shutdown()
            box.core = nil
        }
        thread.stopAndWait()
        logger.info("stopped serving \(configuration.rootDirectory)")
        if configuration.removeCreatedFilesOnStop {
            for name in createdFiles.withLock({ $0 }) { try? store.deleteFile(name) }
            createdFiles.withLock { $0.removeAll() }
        }
    }

    private func running() throws(TFTPError) -> (ReactorThread, CoreBox) {
        try state.withLock { (state: inout RunState) throws(TFTPError) -> (ReactorThread, CoreBox) in
            guard let thread = state.thread, let box = state.core else { throw .serverNotRunning }
            return (thread, box)
        }
    }

    private static func openRoot(_ path: String) throws(TFTPError) -> ConfinedRoot {
        do throws(FileAccessError) {
            return try ConfinedRoot(path: path)
        } catch {
            // The detail already names the root directory.
            throw .invalidConfiguration(error.logDetail)
        }
    }

    /// Whether the server is serving.
    public var isRunning: Bool { state.withLock { $0.thread != nil } }

    /// The address bound (e.g. `"127.0.0.1"`), or the configured host when not running.
    public var host: String {
        state.withLock { $0.boundAddresses.first?.ipString } ?? configuration.host
    }

    /// The port bound (the real one when configured as 0), or the configured port when not running.
    public var port: Int {
        state.withLock { $0.boundAddresses.first.map { Int($0.port) } } ?? configuration.port
    }

    /// Totals since start: transfers, bytes, retransmissions.
    public var statistics: TFTPServerStatistics { statisticsBox.load() }

    // MARK: - Files (Jumpstarter driver API)

    /// Relative paths of the regular files under the root, sorted.
    public func listFiles() throws(TFTPError) -> [String] { try store.listFiles() }

    /// Deletes a file under the root; throws ``TFTPError/fileNotFound(_:)`` when it is missing.
    public func deleteFile(_ name: String) throws(TFTPError) {
        try store.deleteFile(name)
        _ = createdFiles.withLock { $0.remove(name) }
    }

    /// Whether the root holds `name` with this SHA-256 (hex).
    public func checkFileChecksum(_ name: String, sha256: String) throws(TFTPError) -> Bool {
        try store.checkFileChecksum(name, sha256: sha256)
    }

    /// Copies a local file into the root atomically; skipped when the root already holds the same bytes.
    @discardableResult
    public func putFile(_ name: String, contentsOf localFile: String) throws(TFTPError) -> PutFileResult {
        let existed = (try? store.sha256(ofFile: name)) != nil
        let result = try store.putFile(name, contentsOf: localFile)
        if !existed, result == .written { _ = createdFiles.withLock { $0.insert(name) } }
        return result
    }

    /// Writes bytes into the root atomically; skipped when the root already holds the same bytes.
    @discardableResult
    public func putFile(_ name: String, bytes: [UInt8]) throws(TFTPError) -> PutFileResult {
        let existed = (try? store.sha256(ofFile: name)) != nil
        let result = try store.putFile(name, bytes: bytes)
        if !existed, result == .written { _ = createdFiles.withLock { $0.insert(name) } }
        return result
    }

    /// Streams chunks into the root atomically. With `sha256` given and matching the stored
    /// file, nothing is read or written; otherwise the written bytes are checked against it.
    @discardableResult
    public func putFile<S: AsyncSequence>(
        _ name: String, from chunks: S, sha256: String? = nil
    ) async throws(TFTPError) -> PutFileResult where S.Element == [UInt8] {
        let existed = (try? store.sha256(ofFile: name)) != nil
        let result = try await store.putFile(name, from: chunks, sha256: sha256)
        if !existed, result == .written { _ = createdFiles.withLock { $0.insert(name) } }
        return result
    }
}

/// Hands the reactor-confined core from the reactor's set-up to its shutdown.
/// Only touched on the reactor thread.
final class CoreBox: @unchecked Sendable {
    var core: ServerCore?
}
