/// What the rules decided for one request.
public struct RuleDecision: Sendable {
    /// The rule that matched, nil when none did (the server's own settings apply).
    public var rule: String?
    /// The directory to serve from: the root, or the matched rule's root with `{mac}` and
    /// `{ip}` filled in.
    public var rootDirectory: String
    /// The name to look up below it.
    public var name: String
    /// Look the name up ignoring case.
    public var caseInsensitive = false
    /// Protocol overrides.
    public var options = RuleOptions()
    /// Why a matched rule could not be applied (its root needs a MAC that is unknown).
    public var problem: String?
}

/// The rules of a server, in order.
public struct BootRules: Sendable, Hashable {
    public var rules: [BootRule]

    public init(_ rules: [BootRule] = []) {
        self.rules = rules
    }

    /// Whether any rule needs the client's MAC address.
    public var needsMAC: Bool { rules.contains(where: \.needsMAC) }

    /// The decision for a request for `name` from the client at `address` (its text form
    /// `ip`), under `root`; `mac` is asked only when a rule needs it, at most once.
    public func decide(
        name: String, address: [UInt8], ip: String, root: String, mac lookUp: () -> MACAddress?
    ) -> RuleDecision {
        var looked = false
        var mac: MACAddress?
        func macOnce() -> MACAddress? {
            if !looked {
                mac = lookUp()
                looked = true
            }
            return mac
        }
        guard let rule = rules.first(where: { $0.matches(address: address, name: name, mac: macOnce) }) else {
            return RuleDecision(rule: nil, rootDirectory: root, name: name)
        }
        var decision = RuleDecision(
            rule: rule.name, rootDirectory: root, name: rule.rewrite.apply(to: name),
            caseInsensitive: rule.rewrite.caseInsensitive, options: rule.options)
        if let template = rule.rootTemplate {
            var directory = template.replacingPlaceholder("{ip}", with: ip)
            if directory.contains("{mac}") {
                if let known = macOnce() {
                    directory = directory.replacingPlaceholder("{mac}", with: known.pxelinuxName)
                } else {
                    decision.problem =
                        "rule \(rule.name) serves from \(template), but the MAC address of \(ip) is not in the neighbour table"
                }
            }
            decision.rootDirectory = directory
        }
        return decision
    }

    /// The first rule whose root (up to its first placeholder) is missing, as one line.
    public func validationError(directoryExists: (String) -> Bool) -> String? {
        for rule in rules {
            guard let prefix = rule.fixedRootPrefix, !directoryExists(prefix) else { continue }
            return "rule \(rule.name): root \(rule.rootTemplate!) does not exist (\(prefix) is missing)"
        }
        return nil
    }
}

extension String {
    /// Every `placeholder` replaced by `value`; a value never brings a `/` or `..` in.
    func replacingPlaceholder(_ placeholder: String, with value: String) -> String {
        let safe = value.contains("/") || value == ".." ? "_" : value
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: placeholder) {
            result += rest[..<range.lowerBound] + safe
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
