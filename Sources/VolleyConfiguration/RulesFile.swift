import VolleyServer

/// Reads the `rules:` list of `volley.yaml` into ``BootRules``.
///
/// ```yaml
/// rules:
///   - name: boards                      # optional; else rules[N]
///     match: { client: 10.1.0.0/16, mac: "aa:bb:cc:dd:ee:ff", name: "boot/*" }
///     root: /srv/tftp/boards/{mac}
///     rewrite: { regex: "^pxelinux/(.*)", replacement: "boot/\\1", backslash_to_slash: true, case_insensitive: true }
///     options: { tsize: never, max_window_size: 1, max_block_size: 1024, retransmit_timeout_ms: 500 }
/// ```
/// Every error names the rule and is one line.
public enum RulesFile {
    static let ruleKeys: Set = ["name", "match", "root", "rewrite", "options"]
    static let matchKeys: Set = ["client", "mac", "name"]
    static let rewriteKeys: Set = ["regex", "replacement", "backslash_to_slash", "case_insensitive"]
    static let optionKeys = Set(["tsize"] + SettingsTable.ruleOptions.map(\.key))

    /// The rules in `value` (the YAML value of `rules:`).
    public static func parse(_ value: Any) throws(SettingsError) -> BootRules {
        guard let list = value as? [Any] else { throw SettingsError("rules: expected a list of rules") }
        var rules: [BootRule] = []
        for (index, entry) in list.enumerated() {
            let label = "rules[\(index)]"
            guard let fields = entry as? [String: Any] else {
                throw SettingsError("\(label): expected a mapping (match, root, rewrite, options)")
            }
            try checkKeys(fields, allowed: ruleKeys, in: label)
            var rule = BootRule(name: label)
            if let name = fields["name"] {
                // Names go into log lines and events: one short word, nothing to escape.
                let text = try text(name, "name", in: label)
                guard text.count <= 64, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                    throw SettingsError("\(label): name \(SettingsFile.quoted(text)) must be up to 64 letters, digits, '.', '_' or '-'")
                }
                rule.name = text
            }
            let where_ = rule.name == label ? label : "\(label) (\(rule.name))"
            do throws(RuleError) {
                if let match = fields["match"] { try parseMatch(match, into: &rule, in: where_) }
                if let root = fields["root"] {
                    guard let path = root as? String, path.hasPrefix("/") else { throw RuleError("root must be an absolute path") }
                    rule.rootTemplate = path
                }
                if let rewrite = fields["rewrite"] { try parseRewrite(rewrite, into: &rule, in: where_) }
                if let options = fields["options"] { try parseOptions(options, into: &rule, in: where_) }
            } catch {
                throw SettingsError("\(where_): \(error)")
            }
            rules.append(rule)
        }
        return BootRules(rules)
    }

    private static func parseMatch(_ value: Any, into rule: inout BootRule, in label: String) throws(RuleError) {
        guard let fields = value as? [String: Any] else { throw RuleError("match: expected a mapping (client, mac, name)") }
        try checkKeys(fields, allowed: matchKeys)
        if let client = fields["client"] {
            let texts = (client as? [Any])?.map { "\($0)" } ?? ["\(client)"]
            for text in texts {
                guard let range = AddressRange(text) else {
                    throw RuleError("match.client \(SettingsFile.quoted(text)) is not an IP address or CIDR network")
                }
                rule.clients.append(range)
            }
        }
        if let mac = fields["mac"] {
            guard let parsed = MACAddress("\(mac)") else {
                throw RuleError("match.mac \(SettingsFile.quoted("\(mac)")) is not a MAC address (aa:bb:cc:dd:ee:ff)")
            }
            rule.mac = parsed
        }
        if let name = fields["name"] { rule.namePattern = try NamePattern("\(name)") }
    }

    private static func parseRewrite(_ value: Any, into rule: inout BootRule, in label: String) throws(RuleError) {
        guard let fields = value as? [String: Any] else {
            throw RuleError("rewrite: expected a mapping (regex, replacement, backslash_to_slash, case_insensitive)")
        }
        try checkKeys(fields, allowed: rewriteKeys)
        if let flag = fields["backslash_to_slash"] { rule.rewrite.backslashToSlash = try boolean(flag, "rewrite.backslash_to_slash") }
        if let flag = fields["case_insensitive"] { rule.rewrite.caseInsensitive = try boolean(flag, "rewrite.case_insensitive") }
        switch (fields["regex"], fields["replacement"]) {
        case (nil, nil): break
        case (let regex?, let replacement?): try rule.rewrite.substitute("\(regex)", with: "\(replacement)")
        default: throw RuleError("rewrite: regex and replacement go together")
        }
    }

    private static func parseOptions(_ value: Any, into rule: inout BootRule, in label: String) throws(RuleError) {
        guard let fields = value as? [String: Any] else {
            throw RuleError("options: expected a mapping (\(optionKeys.sorted().joined(separator: ", ")))")
        }
        try checkKeys(fields, allowed: optionKeys)
        if let tsize = fields["tsize"] {
            switch "\(tsize)" {
            case "never": rule.options.neverSendTransferSize = true
            case "auto": rule.options.neverSendTransferSize = false
            default: throw RuleError("options.tsize \(SettingsFile.quoted("\(tsize)")) is not never or auto")
            }
        }
        if let window = fields[SettingsTable.maximumWindowSize.key] {
            rule.options.maximumWindowSize = try integer(window, SettingsTable.maximumWindowSize)
        }
        if let block = fields[SettingsTable.maximumBlockSize.key] {
            rule.options.maximumBlockSize = try integer(block, SettingsTable.maximumBlockSize)
        }
        if let timeout = fields[SettingsTable.retransmitTimeout.key] {
            rule.options.retransmitTimeoutMilliseconds = try integer(timeout, SettingsTable.retransmitTimeout)
        }
    }

    private static func checkKeys(_ fields: [String: Any], allowed: Set<String>, in label: String) throws(SettingsError) {
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SettingsError(
                "\(label): unknown key \(SettingsFile.quoted(unknown)) (expected \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    private static func checkKeys(_ fields: [String: Any], allowed: Set<String>) throws(RuleError) {
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw RuleError("unknown key \(SettingsFile.quoted(unknown)) (expected \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    private static func text(_ value: Any, _ key: String, in label: String) throws(SettingsError) -> String {
        guard let string = value as? String, !string.isEmpty else { throw SettingsError("\(label): \(key) must be a non-empty string") }
        return string
    }

    private static func boolean(_ value: Any, _ key: String) throws(RuleError) -> Bool {
        guard let flag = value as? Bool else { throw RuleError("\(key) must be true or false") }
        return flag
    }

    /// The value of an `options:` entry, in the range of the `setting` it overrides.
    private static func integer(_ value: Any, _ setting: SettingDefinition) throws(RuleError) -> Int {
        let range = setting.range ?? Int.min...Int.max
        guard let number = value as? Int, range.contains(number) else {
            throw RuleError("options.\(setting.key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
