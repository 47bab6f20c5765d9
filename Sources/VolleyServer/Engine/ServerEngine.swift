import Logging
import TFTPProtocol
import VolleyReactor
import VolleySystem

/// The serving engine of one reactor: its listeners, the transfer table and what its
/// transfers share. Created on, and confined to, the reactor thread. A server runs one
/// engine per reactor; they share only the admission state (and the observers).
final class ServerEngine {
    let reactor: Reactor
    /// This engine's reactor among the server's (0 is the primary, which reports the
    /// server-wide events: listening, reloaded, stopped accepting).
    let reactorIndex: Int
    private(set) var listeners: [Listener]
    private(set) var configuration: TFTPServerConfiguration
    let logger: Logger
    let environment: TransferEnvironment

    var table = TransferTable()
    /// Limits, rate buckets and transfer counts of the whole server.
    let admission: SharedAdmission
    /// Set once the server stopped taking requests: listeners close as soon as no
    /// transfer (on any reactor) runs over them.
    private var draining = false
    var files = SharedFileTable()
    var blockSizeCaps = InterfaceBlockSizeCaps()
    /// Names to files: rules, rewrite, confinement, the world-readable policy, the origin's cache.
    let resolver: BootFileResolver
    /// Requests waiting for the origin, by name.
    var parkedRequests: [String: [ParkedRequest]] = [:]
    /// Origin refreshes in flight, shared by all reactors of the server.
    var originRefreshes = OriginRefreshes()
    /// Runs work on this engine's reactor thread from another thread (set once running).
    var postToReactor: (@Sendable (@escaping @Sendable (ServerEngine) -> Void) -> Void)?
    /// Runs work on every engine of the server, each on its own thread (set once running).
    var postToAllReactors: (@Sendable (@escaping @Sendable (ServerEngine) -> Void) -> Void)?
    /// Listeners drain into it during the turn's events; with io_uring, the ready transfers
    /// receive into it after them (the two never overlap).
    let receiveBatch: DatagramReceiveBatch
    /// With io_uring, transfer sockets found readable are received from together here.
    private let readyTransfers: ReadyTransfers?
    /// When each kind of warning was last logged, so that a flood logs once a second.
    private var lastWarnings: [String: UInt64] = [:]

    /// Registers `listeners` with `reactor`; `sharedListeners` are also read by other
    /// reactors (one socket systemd passed), so each datagram wakes only one of them.
    init(
        reactor: Reactor, reactorIndex: Int = 0, listeners: [Listener], sharedListeners: Bool = false, root: ConfinedRoot,
        admission: SharedAdmission, configuration: TFTPServerConfiguration, observers: [any TFTPServerObserver], logger: Logger
    ) throws(SystemError) {
        self.reactor = reactor
        self.reactorIndex = reactorIndex
        self.listeners = listeners
        self.resolver = BootFileResolver(root: root, configuration: configuration)
        self.configuration = configuration
        self.logger = logger
        self.admission = admission
        let ring = Self.makeRing(configuration, logger: reactorIndex == 0 ? logger : nil)
        let outbox = DatagramOutbox(segmentationOffload: configuration.segmentationOffload, ring: ring, logger: logger)
        let environment = TransferEnvironment(reactor: reactor, outbox: outbox, observers: observers, logger: logger)
        self.environment = environment
        let receiveBatch = DatagramReceiveBatch(capacity: 64, bufferSize: 2048)
        self.receiveBatch = receiveBatch
        let ready = ring.map { ReadyTransfers(ring: $0, batch: receiveBatch) }
        self.readyTransfers = ready
        environment.transferEnded = { [unowned self] transfer in self.remove(transfer) }
        if let ready {
            // Before the timers: an ACK that arrived must count before its retransmission is due.
            reactor.addAfterEventsHook { ready.receiveAll(in: environment) }
        }
        reactor.addBeforeWaitHook { outbox.flush() }
        for listener in listeners {
            try reactor.register(listener.socket.descriptor, exclusive: sharedListeners) { [unowned self, unowned listener] _ in
                self.drain(listener)
            }
            if reactorIndex == 0 {
                environment.emit(.listening(address: listener.address.ipString, port: Int(listener.address.port)))
            }
        }
    }

    /// The ring that batches the transfer sockets' datagrams, or nil: in single-port mode
    /// (one socket: `recvmmsg`/`sendmmsg` batch already), when `io_uring` is off, or when the
    /// kernel refuses io_uring. `logger` (the first reactor's) says which was chosen.
    private static func makeRing(_ configuration: TFTPServerConfiguration, logger: Logger?) -> DatagramRing? {
        guard !configuration.singlePort else { return nil }
        guard configuration.ioUring else {
            logger?.info("transfer sockets: epoll, a system call per socket (io_uring is off)")
            return nil
        }
        do {
            let ring = try DatagramRing(capacity: 256)
            logger?.info("transfer sockets: io_uring, one submission for the receives and one for the sends of all ready transfers")
            return ring
        } catch {
            let hint = error.errno == .notPermitted ? " (kernel.io_uring_disabled, or a seccomp filter)" : ""
            logger?.notice("transfer sockets: epoll, a system call per socket: the kernel refused io_uring: \(error.reason)\(hint)")
            return nil
        }
    }

    /// Ends every transfer and closes the listeners.
    func shutdown() {
        for transfer in table.all { transfer.finish(.serverStopped, in: environment) }
        closeListeners()
        environment.outbox.flush()
    }

    /// Stops taking requests; transfers in flight go on. Listeners close now, except that
    /// in single-port mode a listener stays open (and read) until its last transfer ended.
    func stopAccepting() {
        guard !draining else { return }
        draining = true
        admission.stopAccepting()
        if reactorIndex == 0 { environment.emit(.stoppedAccepting(activeTransfers: admission.activeTransfers)) }
        closeListenersIfUnused()
    }

    /// Applies a reloaded configuration: limits at once, a new root for new transfers.
    /// Transfers in flight finish as they started (socket mode, file, options).
    func apply(_ newConfiguration: TFTPServerConfiguration, root newRoot: ConfinedRoot?) {
        configuration = newConfiguration
        admission.limits = AdmissionLimits(newConfiguration)
        environment.outbox.setSegmentationOffload(newConfiguration.segmentationOffload)
        resolver.apply(newConfiguration, root: newRoot)
        if reactorIndex == 0 { environment.emit(.reloaded(rootChanged: newRoot != nil)) }
    }

    /// Runs `heartbeat` every interval on this thread while every reactor of `liveness` went
    /// round its loop within three intervals (plus a second): a stuck reactor stops it too.
    func startHeartbeat(_ heartbeat: TFTPServerHeartbeat, liveness: ReactorLiveness, statistics: @escaping () -> TFTPServerStatistics) {
        let patience = UInt64(3 * heartbeat.intervalMilliseconds + 1000)
        repeatEvery(heartbeat.intervalMilliseconds) { engine in
            liveness.beat(engine.reactorIndex, now: engine.reactor.now)
            let stuck = liveness.stuckReactors(longerThan: patience, now: engine.reactor.now)
            if stuck.isEmpty {
                heartbeat.action(statistics())
            } else {
                engine.warnAtMostOncePerSecond(
                    "stuck",
                    "reactor \(stuck.map(String.init).joined(separator: ", ")) has not run its loop for over \(patience) ms: holding back the heartbeat"
                )
            }
        }
    }

    /// Notes this reactor's liveness every `intervalMilliseconds` (reactors without the heartbeat).
    func startLivenessBeat(_ liveness: ReactorLiveness, intervalMilliseconds: Int) {
        repeatEvery(intervalMilliseconds) { engine in liveness.beat(engine.reactorIndex, now: engine.reactor.now) }
    }

    /// Runs `action` every `milliseconds` on this thread while the engine lives.
    private func repeatEvery(_ milliseconds: Int, _ action: @escaping (ServerEngine) -> Void) {
        reactor.addTimer(afterMilliseconds: milliseconds) { [weak self] in
            guard let self else { return }
            action(self)
            self.repeatEvery(milliseconds, action)
        }
    }

    // MARK: - Transfers in the table

    /// Registers a new transfer (counted by ``SharedAdmission/claimTransfer(peer:client:reactor:overListener:)``
    /// already), reads its socket when it has its own, and starts it.
    func launch(_ transfer: ReadTransfer) throws(SystemError) {
        if !transfer.sharesListenerSocket {
            // The registration keeps the transfer (strongly: a weak reference costs a side
            // table and slower reference counting on every event); finish() deregisters it.
            // It does not touch the engine, whose weak heartbeat reference gave it a side table.
            if let readyTransfers {
                try reactor.register(transfer.socket.descriptor) { _ in readyTransfers.append(transfer) }
            } else {
                let batch = receiveBatch
                let environment = environment
                try reactor.register(transfer.socket.descriptor) { _ in
                    transfer.drainSocket(into: batch, in: environment)
                }
            }
        }
        table.insert(transfer)
        transfer.start(in: environment)
    }

    private func remove(_ transfer: ReadTransfer) {
        table.remove(transfer)
        let leftOverListeners = admission.transferEnded(
            peer: transfer.peer, client: transfer.description.clientAddress, reactor: reactorIndex,
            overListener: transfer.sharesListenerSocket)
        files.release(transfer.file)
        guard draining else { return }
        if transfer.sharesListenerSocket, leftOverListeners == 0, let postToAllReactors {
            // The last transfer over a listener, server-wide: every reactor may close its own.
            // (Closing one of a SO_REUSEPORT group early would re-hash clients still being
            // served to another reactor's socket.)
            postToAllReactors { $0.closeListenersIfUnused() }
        } else {
            closeListenersIfUnused()
        }
    }

    /// Logs `message` as a warning unless a warning of `kind` was logged in the last second.
    func warnAtMostOncePerSecond(_ kind: String, _ message: @autoclosure () -> String) {
        if let last = lastWarnings[kind], reactor.now &- last < 1000 { return }
        lastWarnings[kind] = reactor.now
        logger.warning("\(message())")
    }

    private func closeListenersIfUnused() {
        if draining, admission.transfersOverListeners == 0 { closeListeners() }
    }

    private func closeListeners() {
        for listener in listeners { reactor.deregister(listener.socket.descriptor) }
        listeners.removeAll()
    }
}

@available(*, unavailable)
extension ServerEngine: Sendable {}
