import VolleySystem

/// What the server would do with one request, for `volley rules explain`.
public struct RuleExplanation: Sendable {
    /// The rules' decision.
    public var decision: RuleDecision
    /// The file that would be served (root and name joined), when it can be found.
    public var servedFile: String?
    /// Why the request would fail, when it would.
    public var problem: String?
}

extension TFTPServerConfiguration {
    /// Evaluates the rules for a request for `name` from `client` (an IP address), with the
    /// client's MAC given or else read from the neighbour table, and looks the file up as a
    /// real request would (confined, world-readable check included).
    public func explain(name: String, client: String, mac: MACAddress?) -> RuleExplanation? {
        guard let address = SocketAddress(ip: client, port: 0) else { return nil }
        let decision = rules.decide(
            name: name, address: address.addressBytes, ip: client, root: rootDirectory,
            mac: { mac ?? NeighbourTable.ipv4Entries()[client].flatMap(MACAddress.init) })
        var explanation = RuleExplanation(decision: decision)
        if let problem = decision.problem {
            explanation.problem = problem
            return explanation
        }
        let root: ConfinedRoot
        do throws(FileAccessError) {
            root = try ConfinedRoot(path: decision.rootDirectory)
        } catch {
            explanation.problem = error.logDetail
            return explanation
        }
        var bytes = Array(decision.name.utf8)
        if decision.caseInsensitive { bytes = root.resolvingCase(of: bytes) }
        switch root.openForReading(bytes, requireWorldReadable: requireWorldReadable) {
        case .success:
            let relative = String(decoding: bytes, as: UTF8.self)
            let base = decision.rootDirectory.hasSuffix("/") ? decision.rootDirectory : decision.rootDirectory + "/"
            explanation.servedFile = base + (relative.hasPrefix("/") ? String(relative.drop { $0 == "/" }) : relative)
        case .failure(let failure):
            explanation.problem = "\(failure.clientMessage): \(failure.logDetail)"
        }
        return explanation
    }
}
