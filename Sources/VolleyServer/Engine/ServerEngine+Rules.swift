import TFTPProtocol
import VolleySystem

/// A request after the rules: where to look and under which name, and what the rule changes.
struct ResolvedRequest {
    /// The matched rule's name, nil when none matched.
    var rule: String?
    /// The root the name is looked up under.
    var root: ConfinedRoot
    /// The name's bytes to look up (the client's own bytes when no rule rewrote them).
    var name: [UInt8]
    /// Protocol overrides of the rule.
    var options: RuleOptions
}

extension ServerEngine {
    /// Applies `rules:` to a request. Without rules this is the root and the client's bytes.
    func resolve(_ request: TFTPRequest, from client: SocketAddress) -> Result<ResolvedRequest, FileAccessError> {
        let rules = configuration.rules
        guard !rules.rules.isEmpty else {
            return .success(ResolvedRequest(rule: nil, root: root, name: request.filenameBytes, options: RuleOptions()))
        }
        let ip = client.unmappedIPString
        let decision = rules.decide(
            name: request.filename, address: client.addressBytes, ip: ip, root: configuration.rootDirectory,
            mac: { neighbours.mac(of: ip, now: reactor.now) })
        guard let rule = decision.rule else {
            return .success(ResolvedRequest(rule: nil, root: root, name: request.filenameBytes, options: RuleOptions()))
        }
        if let problem = decision.problem {
            return .failure(FileAccessError(.notFound, logDetail: problem))
        }
        let ruleRoot: ConfinedRoot
        if decision.rootDirectory == configuration.rootDirectory {
            ruleRoot = root
        } else {
            switch ruleRoots.root(decision.rootDirectory) {
            case .success(let opened): ruleRoot = opened
            case .failure(let failure):
                return .failure(FileAccessError(.notFound, logDetail: "rule \(rule): \(failure.logDetail)"))
            }
        }
        var name = decision.name == request.filename ? request.filenameBytes : Array(decision.name.utf8)
        if decision.caseInsensitive { name = ruleRoot.resolvingCase(of: name) }
        return .success(ResolvedRequest(rule: rule, root: ruleRoot, name: name, options: decision.options))
    }
}

/// The roots that rules serve from, opened once and kept (a bounded number of them).
final class RuleRoots {
    private var opened: [String: ConfinedRoot] = [:]
    private let capacity = 4096

    /// The confined root at `path`, opened on first use.
    func root(_ path: String) -> Result<ConfinedRoot, FileAccessError> {
        if let known = opened[path] { return .success(known) }
        do throws(FileAccessError) {
            let root = try ConfinedRoot(path: path)
            if opened.count >= capacity { opened.removeAll(keepingCapacity: true) }
            opened[path] = root
            return .success(root)
        } catch {
            return .failure(error)
        }
    }

    /// Forgets every root (a reload may have changed the directories).
    func removeAll() { opened.removeAll() }
}
