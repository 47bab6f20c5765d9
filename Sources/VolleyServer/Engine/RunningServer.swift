import Logging
import VolleyReactor
import VolleySystem

/// A started server: its reactor threads and the engine confined to each.
///
/// Each reactor takes requests on its own listener (sockets bound here: one `SO_REUSEPORT`
/// socket per reactor, so the kernel keeps a client's packets on one reactor), or on the
/// sockets systemd passed, which all reactors then watch with `EPOLLEXCLUSIVE`. A transfer
/// lives on the reactor that took its request. The admission state is shared.
final class RunningServer: Sendable {
    private let reactors: [ReactorHandle]
    /// The addresses the listeners are bound to, each once.
    let boundAddresses: [SocketAddress]
    /// Limits and counts of the whole server, shared with the HTTP file server's connections.
    let admission: SharedAdmission

    /// How many reactor threads serve.
    var reactorCount: Int { reactors.count }

    private init(reactors: [ReactorHandle], boundAddresses: [SocketAddress], admission: SharedAdmission) {
        self.reactors = reactors
        self.admission = admission
        self.boundAddresses = boundAddresses
    }

    static func start(
        _ configuration: TFTPServerConfiguration, observers: [any TFTPServerObserver], origin: (any TFTPOrigin)?,
        originRefreshes: OriginRefreshes, logger: Logger,
        heartbeat: TFTPServerHeartbeat?, statistics: @escaping @Sendable () -> TFTPServerStatistics
    ) throws(TFTPError) -> RunningServer {
        let root = try TFTPServer.openRoot(configuration.rootDirectory)
        let count = reactorCount(for: configuration, logger: logger)
        let inherited = !configuration.inheritedSockets.isEmpty
        let listeners =
            inherited
            ? try ListenerSockets.adopt(configuration.inheritedSockets) : try ListenerSockets.bind(configuration, count: count)
        let admission = SharedAdmission(limits: AdmissionLimits(configuration), now: MonotonicClock.milliseconds())
        let liveness = ReactorLiveness(reactors: count, now: MonotonicClock.milliseconds())
        var started: [ReactorHandle] = []
        for index in 0..<count {
            // Inherited sockets are shared by every reactor; bound ones are one per reactor.
            let own = inherited ? listeners : [listeners[index]]
            let box = EngineBox()
            do {
                let thread = try ReactorThread.start(name: threadName(index)) { reactor in
                    let engine = try ServerEngine(
                        reactor: reactor, reactorIndex: index, listeners: own, sharedListeners: inherited && count > 1,
                        root: root, admission: admission, configuration: configuration, observers: observers, logger: logger)
                    if let heartbeat {
                        if index == 0 {
                            engine.startHeartbeat(heartbeat, liveness: liveness, statistics: statistics)
                        } else {
                            engine.startLivenessBeat(liveness, intervalMilliseconds: heartbeat.intervalMilliseconds)
                        }
                    }
                    engine.resolver.origin = origin
                    engine.originRefreshes = originRefreshes
                    box.engine = engine
                }
                started.append(ReactorHandle(thread: thread, box: box))
            } catch {
                for reactor in started { reactor.stop() }
                throw .io("cannot start reactor \(index): \(error)")
            }
        }
        let all = started
        let postToAll: @Sendable (@escaping @Sendable (ServerEngine) -> Void) -> Void = { work in
            for reactor in all { reactor.execute(work) }
        }
        for reactor in started {
            reactor.execute { engine in
                engine.postToReactor = reactor.execute
                engine.postToAllReactors = postToAll
            }
        }
        var addresses: [SocketAddress] = []
        for address in listeners.map(\.address) where !addresses.contains(address) { addresses.append(address) }
        return RunningServer(reactors: started, boundAddresses: addresses, admission: admission)
    }

    /// `reactors`, with 0 (`auto`) as the CPUs this process may use. Single-port mode on
    /// sockets systemd passed runs one: with one socket for all, only the kernel's
    /// `SO_REUSEPORT` hash could keep a client's ACKs on the reactor serving it.
    static func reactorCount(for configuration: TFTPServerConfiguration, logger: Logger) -> Int {
        let wanted = configuration.reactors == 0 ? ProcessorCount.available() : configuration.reactors
        if wanted > 1, configuration.singlePort, !configuration.inheritedSockets.isEmpty {
            logger.notice(
                "single-port mode on sockets passed by systemd runs one reactor (\(wanted) asked for); bind the port yourself for more")
            return 1
        }
        return wanted
    }

    /// `volley-reactor0`…: 15 bytes is all a thread name keeps.
    private static func threadName(_ index: Int) -> String {
        index < 10 ? "volley-reactor\(index)" : "volley-react\(index)"
    }

    /// Runs `work` with each engine on its reactor thread; dropped once stopped.
    func execute(_ work: @escaping @Sendable (ServerEngine) -> Void) {
        for reactor in reactors { reactor.execute(work) }
    }

    /// Ends every transfer, closes every socket and joins the reactor threads.
    func stop() {
        for reactor in reactors { reactor.stop() }
    }
}

/// One reactor thread of a server and the engine confined to it.
private struct ReactorHandle: Sendable {
    let thread: ReactorThread
    let box: EngineBox

    /// Runs `work` with the engine on its reactor thread; dropped once stopped.
    @Sendable func execute(_ work: @escaping @Sendable (ServerEngine) -> Void) {
        let box = box
        thread.execute { _ in
            if let engine = box.engine { work(engine) }
        }
    }

    /// Ends the engine's transfers, closes its sockets and joins the thread.
    func stop() {
        execute { engine in engine.shutdown() }
        let box = box
        thread.execute { _ in box.engine = nil }
        thread.stopAndWait()
    }
}

/// Hands a reactor-confined engine from the reactor's set-up to its shutdown.
/// Only touched on its reactor thread.
private final class EngineBox: @unchecked Sendable {
    var engine: ServerEngine?
}
