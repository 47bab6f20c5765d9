import Glibc
import Logging
import Synchronization
import VolleyReactor

/// A read-only TFTP server on one epoll reactor thread, with the file-management API of
/// the Jumpstarter TFTP driver (`start`, `stop`, `listFiles`, `putFile`, …).
///
/// Thread-safe: call it from any thread or task.
public final class TFTPServer: Sendable {
    /// The settings given at creation (``host`` and ``port`` report what was actually bound).
    public let configuration: TFTPServerConfiguration
    private let logger: Logger
    private let store: RootDirectoryStore
    private let state = Mutex(RunState())
    private let statisticsBox = StatisticsBox()
    private let createdFiles = Mutex<Set<String>>([])

    private struct RunState: @unchecked Sendable {
        var thread: ReactorThread?
        var boundAddress: SocketAddress?
        var boxes: CoreBox?
    }

    /// Creates a stopped server. `logger` receives one line per transfer and the lifecycle lines.
    public init(configuration: TFTPServerConfiguration = TFTPServerConfiguration(), logger: Logger = Logger(label: "volley")) {
        self.configuration = configuration
        self.logger = logger
        self.store = RootDirectoryStore(rootDirectory: configuration.rootDirectory)
    }

    // MARK: - Server control

    /// Binds the listening socket and starts serving; returns once requests are accepted.
    public func start() throws(TFTPError) {
        if let problem = configuration.validationError() { throw .invalidConfiguration(problem) }
        try state.withLock { (state: inout RunState) throws(TFTPError) in
            guard state.thread == nil else { throw .serverAlreadyRunning }
            ResourceLimits.raiseOpenFilesLimit()
            let root: ConfinedRoot
            do throws(FileAccessError) {
                root = try ConfinedRoot(path: configuration.rootDirectory)
            } catch {
                throw .invalidConfiguration("root directory \(configuration.rootDirectory): \(error.logDetail)")
            }
            let requested = try HostAddressResolver.resolve(configuration.host, port: UInt16(configuration.port))
            let listener: Listener
            do {
                let descriptor = try UDPSocket.openBound(to: requested, packetInfo: true)
                // A boot storm sends thousands of RRQs at once: give them room to queue.
                try? UDPSocket.setReceiveBufferSize(descriptor, bytes: 4 << 20)
                listener = Listener(descriptor: descriptor, address: try UDPSocket.localAddress(of: descriptor))
            } catch {
                root.close()
                throw .invalidConfiguration("cannot listen on \(requested): \(error)")
            }
            let box = CoreBox()
            let (configuration, logger, statistics) = (self.configuration, self.logger, self.statisticsBox)
            do {
                state.thread = try ReactorThread.start(name: "volley-reactor") { reactor in
                    box.core = try ServerCore(
                        reactor: reactor, listeners: [listener], root: root,
                        configuration: configuration, logger: logger, statistics: statistics)
                }
            } catch {
                closeDescriptor(listener.descriptor)
                root.close()
                throw .io("cannot start the reactor: \(error)")
            }
            state.boxes = box
            state.boundAddress = listener.address
            logger.info("serving \(configuration.rootDirectory) on \(listener.address.ipString) port \(listener.address.port)")
        }
    }

    /// Stops serving: ends transfers in flight and closes every socket.
    /// Throws ``TFTPError/serverNotRunning`` when the server is not running.
    public func stop() throws(TFTPError) {
        let (thread, box) = try state.withLock { (state: inout RunState) throws(TFTPError) -> (ReactorThread, CoreBox?) in
            guard let thread = state.thread else { throw .serverNotRunning }
            defer { state.thread = nil; state.boxes = nil }
            return (thread, state.boxes)
        }
        thread.execute { _ in
            box?.core?.shutdown()
            box?.core?.root.close()
            box?.core = nil
        }
        thread.stopAndWait()
        logger.info("stopped serving \(configuration.rootDirectory)")
        if configuration.removeCreatedFilesOnStop {
            for name in createdFiles.withLock({ $0 }) { try? store.deleteFile(name) }
            createdFiles.withLock { $0.removeAll() }
        }
    }

    /// Whether the server is serving.
    public var isRunning: Bool { state.withLock { $0.thread != nil } }

    /// The address bound (e.g. `"127.0.0.1"`), or the configured host when not running.
    public var host: String {
        state.withLock { $0.boundAddress?.ipString } ?? configuration.host
    }

    /// The port bound (the real one when configured as 0), or the configured port when not running.
    public var port: Int {
        state.withLock { $0.boundAddress.map { Int($0.port) } } ?? configuration.port
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
