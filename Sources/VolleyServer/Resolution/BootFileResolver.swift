import VolleySystem

/// From a requested name and the client asking to an open file, whatever the protocol:
/// `rules:` (client address, MAC, name), `root:` and `rewrite:`, confinement beneath the
/// root, the world-readable policy, and the origin's cache. The file it opens is the
/// identity a transfer keeps (``OpenFile`` compares its status with the one at open).
///
/// Not thread-safe: each reactor (and each other protocol's thread) holds its own, with
/// its own caches of opened roots and of the neighbour table. Fetching from the origin is
/// the caller's (``OriginRefreshes`` coalesces fetches of one name across all of them).
final class BootFileResolver {
    /// What looking a resolved name up gave.
    enum Lookup {
        /// The file, open.
        case opened(OpenFile)
        /// Not under the root; the origin may have it under this name.
        case fromOrigin(String)
        /// Refused: missing, outside the root, not world-readable, not a regular file, …
        case refused(FileAccessError)
    }

    private(set) var root: ConfinedRoot
    private(set) var rootDirectory: String
    private(set) var rules: BootRules
    private(set) var requireWorldReadable: Bool
    /// Where names missing from the root are fetched from, if anywhere.
    var origin: (any TFTPOrigin)?
    /// MAC addresses of clients, for rules that match on them or serve `{mac}` roots, and for events.
    let neighbours = NeighbourCache()
    /// The roots `rules:` serve from (and the origin's cache directory).
    private let ruleRoots = RuleRoots()

    init(root: ConfinedRoot, configuration: TFTPServerConfiguration) {
        self.root = root
        self.rootDirectory = configuration.rootDirectory
        self.rules = configuration.rules
        self.requireWorldReadable = configuration.requireWorldReadable
    }

    /// Takes a reloaded configuration, and a new root when it changed.
    func apply(_ configuration: TFTPServerConfiguration, root newRoot: ConfinedRoot?) {
        if let newRoot { root = newRoot }
        rootDirectory = configuration.rootDirectory
        rules = configuration.rules
        requireWorldReadable = configuration.requireWorldReadable
        ruleRoots.removeAll()
    }

    /// Applies `rules:` to a request for `name` (its bytes as sent: `nameBytes`) from `client`.
    /// Without rules this is the root and the client's bytes.
    func resolve(name: String, nameBytes: [UInt8], client: SocketAddress, now: UInt64) -> Result<ResolvedName, FileAccessError> {
        guard !rules.rules.isEmpty else {
            return .success(ResolvedName(rule: nil, root: root, name: nameBytes, options: RuleOptions()))
        }
        let ip = client.unmappedIPString
        let decision = rules.decide(
            name: name, address: client.addressBytes, ip: ip, root: rootDirectory, mac: { self.neighbours.mac(of: ip, now: now) })
        guard let rule = decision.rule else {
            return .success(ResolvedName(rule: nil, root: root, name: nameBytes, options: RuleOptions()))
        }
        if let problem = decision.problem {
            return .failure(FileAccessError(.notFound, logDetail: problem))
        }
        let ruleRoot: ConfinedRoot
        if decision.rootDirectory == rootDirectory {
            ruleRoot = root
        } else {
            switch ruleRoots.root(decision.rootDirectory) {
            case .success(let opened): ruleRoot = opened
            case .failure(let failure):
                return .failure(FileAccessError(.notFound, logDetail: "rule \(rule): \(failure.logDetail)"))
            }
        }
        var resolvedName = decision.name == name ? nameBytes : Array(decision.name.utf8)
        if decision.caseInsensitive { resolvedName = ruleRoot.resolvingCase(of: resolvedName) }
        return .success(ResolvedName(rule: rule, root: ruleRoot, name: resolvedName, options: decision.options))
    }

    /// Opens a resolved name, confined beneath its root. A name missing from the main root is
    /// served from a fresh cached copy of the origin's, else asked of the origin (`allowOrigin`).
    func open(_ resolved: ResolvedName, allowOrigin: Bool) -> Lookup {
        switch resolved.root.openForReading(resolved.name, requireWorldReadable: requireWorldReadable) {
        case .success(let file):
            return .opened(file)
        case .failure(let failure):
            guard failure.kind == .notFound, allowOrigin, let origin, resolved.root === root else { return .refused(failure) }
            let name = resolved.servedName
            if origin.cachedCopyIsFresh(name), let cache = cacheRoot() {
                var cached = resolved
                cached.root = cache
                return open(cached, allowOrigin: false)
            }
            return .fromOrigin(name)
        }
    }

    /// The origin's cache directory as a root, once the origin has brought a name into it.
    func cacheRoot() -> ConfinedRoot? {
        guard let origin else { return nil }
        return try? ruleRoots.root(origin.cacheDirectory).get()
    }

    /// The client's MAC address as the neighbour table had it at most a second ago (for events).
    func recentMAC(of client: SocketAddress, now: UInt64) -> String? {
        neighbours.recentMAC(of: client.unmappedIPString, now: now)
    }
}
