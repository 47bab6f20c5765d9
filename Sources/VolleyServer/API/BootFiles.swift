import Synchronization
import VolleySystem

/// The boot files of a ``TFTPServer`` for another protocol (the HTTP file server): the same
/// root, `rules:` (address, MAC, name), `root:` and `rewrite:`, confinement, world-readable
/// policy, and `origin:`, whose fetches are coalesced with the TFTP service's. Reloads of the
/// server's configuration apply here too.
///
/// Thread-safe: call it from any thread or task.
public final class BootFiles: Sendable {
    private let server: TFTPServer
    /// The resolver is not thread-safe; it is only ever used under the lock, and what leaves
    /// the lock (open files, resolved names) is the caller's alone.
    private struct State: @unchecked Sendable {
        var resolver: BootFileResolver?
        /// The configuration the resolver was made from.
        var configuration: TFTPServerConfiguration?
    }

    private let state = Mutex(State())

    /// - Parameter server: the server whose files are served, started or not.
    public init(server: TFTPServer) {
        self.server = server
    }

    /// What ``openWithoutWaiting(_:client:)`` found.
    public enum Immediate: Sendable {
        case opened(BootFile)
        case refused(BootFileRefusal)
        /// Only the origin has it: ``open(_:client:)`` fetches it.
        case needsOrigin
    }

    /// Opens `name` at once, without waiting for the origin: for the common case, where the
    /// file is under the root (a few system calls, fine on an event loop).
    public func openWithoutWaiting(_ name: [UInt8], client: SocketAddress) -> Immediate {
        switch lookUpNow(name, client: client) {
        case .failure(let refusal): .refused(refusal)
        case .success(let (resolved, .opened(file))): .opened(BootFile(file, resolved: resolved))
        case .success(let (_, .refused(failure))): .refused(Self.refusal(failure))
        case .success(_, .fromOrigin): .needsOrigin
        }
    }

    /// Opens `name` as the client at `client` asked for it (the name as the protocol decoded it),
    /// fetching it from the origin first when only the origin has it.
    public func open(_ name: [UInt8], client: SocketAddress) async -> Result<BootFile, BootFileRefusal> {
        switch lookUpNow(name, client: client) {
        case .failure(let refusal):
            return .failure(refusal)
        case .success(let (resolved, lookup)):
            switch lookup {
            case .opened(let file): return .success(BootFile(file, resolved: resolved))
            case .refused(let failure): return .failure(Self.refusal(failure))
            case .fromOrigin(let originName):
                guard let origin = server.origin else { return .failure(BootFileRefusal(kind: .notFound, detail: "no origin")) }
                switch await server.originRefreshes.refresh(originName, from: origin) {
                case .ready:
                    return cached(originName, resolved: resolved)
                case .notFound(let detail):
                    return .failure(
                        BootFileRefusal(kind: .notFound, detail: "not under the root, and the origin does not have it: \(detail)"))
                case .failed(let detail):
                    return .failure(BootFileRefusal(kind: .busy, detail: "the origin failed: \(detail)"))
                }
            }
        }
    }

    /// The rules applied to `name`, and what the root holds under the resolved name.
    private func lookUpNow(_ name: [UInt8], client: SocketAddress) -> Result<(ResolvedName, BootFileResolver.Lookup), BootFileRefusal> {
        let text = String(decoding: name, as: UTF8.self)
        return lookUp { resolver in
            resolver.resolve(name: text, nameBytes: name, client: client, now: MonotonicClock.milliseconds()).map { resolved in
                (resolved, resolver.open(resolved, allowOrigin: resolver.origin != nil))
            }
        }.mapError(Self.refusal)
    }

    /// The origin's copy of `name`, now in its cache.
    private func cached(_ name: String, resolved: ResolvedName) -> Result<BootFile, BootFileRefusal> {
        let lookup = lookUp { resolver -> Result<(ResolvedName, BootFileResolver.Lookup), FileAccessError> in
            guard let cache = resolver.cacheRoot() else { return .failure(FileAccessError(.notFound, logDetail: "no origin cache")) }
            let inCache = ResolvedName(rule: resolved.rule, root: cache, name: Array(name.utf8), options: resolved.options)
            return .success((inCache, resolver.open(inCache, allowOrigin: false)))
        }
        switch lookup {
        case .success(let (inCache, .opened(file))): return .success(BootFile(file, resolved: inCache))
        case .success(let (_, .refused(failure))), .failure(let failure): return .failure(Self.refusal(failure))
        case .success(_, .fromOrigin): return .failure(BootFileRefusal(kind: .notFound, detail: "not in the origin's cache"))
        }
    }

    /// Counts a connection from `client` against the server's transfer limits (`max_transfers`,
    /// `max_transfers_per_client`), shared with TFTP: the release to call once when it closes,
    /// or nil when a limit is reached (answer 503).
    public func admitConnection(from client: SocketAddress) -> (@Sendable () -> Void)? {
        server.admitConnection(from: client)
    }

    /// Reports an HTTP transfer or refusal to the server's observers (the log, metrics, the event stream).
    public func report(_ event: TFTPServerEvent) {
        server.report(event)
    }

    /// The MAC address of `client` as the neighbour table had it at most a second ago.
    public func recentMAC(of client: SocketAddress) -> String? {
        let found = lookUp { resolver -> Result<String?, FileAccessError> in
            .success(resolver.recentMAC(of: client, now: MonotonicClock.milliseconds()))
        }
        return (try? found.get()) ?? nil
    }

    /// Runs `body` with a resolver made from the server's configuration in force (made anew after a reload).
    private func lookUp<T>(
        _ body: (BootFileResolver) -> Result<T, FileAccessError>
    ) -> Result<T, FileAccessError> {
        let configuration = server.configuration
        return state.withLock { state in
            if state.resolver == nil || state.configuration?.rootDirectory != configuration.rootDirectory
                || state.configuration?.rules != configuration.rules
                || state.configuration?.requireWorldReadable != configuration.requireWorldReadable
            {
                do throws(TFTPError) {
                    let resolver = BootFileResolver(
                        root: try TFTPServer.openRoot(configuration.rootDirectory), configuration: configuration)
                    resolver.origin = server.origin
                    (state.resolver, state.configuration) = (resolver, configuration)
                } catch {
                    return .failure(FileAccessError(.notFound, logDetail: "the root cannot be opened: \(error)"))
                }
            }
            return body(state.resolver!)
        }
    }

    private static func refusal(_ failure: FileAccessError) -> BootFileRefusal {
        let kind: BootFileRefusal.Kind =
            switch failure.kind {
            case .notFound: .notFound
            case .accessDenied, .notWorldReadable: .accessDenied
            case .notARegularFile: .notARegularFile
            case .invalidName: .invalidName
            case .resourcesExhausted: .busy
            case .other: .failed
            }
        return BootFileRefusal(kind: kind, detail: failure.logDetail)
    }
}
