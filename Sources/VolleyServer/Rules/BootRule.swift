/// One entry of `rules:`: which requests it matches, and what it changes for them.
///
/// Rules are tried in order for each read request; the first that matches applies. A rule
/// with no conditions matches every request.
public struct BootRule: Sendable, CustomStringConvertible {
    /// How the rule is named in logs, events and `volley rules explain`: its `name:`, else
    /// `rules[N]` (from 0).
    public var name: String

    /// Match: the client's address lies in one of these (any, when empty).
    public var clients: [AddressRange] = []
    /// Match: the client's MAC address, from the neighbour table (nil: any).
    public var mac: MACAddress?
    /// Match: the requested name, after the server's own normalisation (nil: any).
    public var namePattern: NamePattern?

    /// Serve from this directory instead of the root; `{mac}` (`01-aa-bb-…`) and `{ip}` are
    /// replaced per request. Confined exactly like the root.
    public var rootTemplate: String?
    /// How the requested name is changed before the lookup.
    public var rewrite = NameRewrite()
    /// Protocol settings for the matched clients.
    public var options = RuleOptions()

    public init(name: String) {
        self.name = name
    }

    public var description: String { name }

    /// Whether the rule needs the client's MAC address to decide or to build its root.
    public var needsMAC: Bool {
        mac != nil || (rootTemplate?.contains("{mac}") ?? false)
    }

    /// Whether the request matches; `mac` is looked up only when the rule needs it.
    func matches(address: [UInt8], name: String, mac lookUp: () -> MACAddress?) -> Bool {
        if !clients.isEmpty, !clients.contains(where: { $0.contains(address) }) { return false }
        if let namePattern, !namePattern.matches(name) { return false }
        if let mac, lookUp() != mac { return false }
        return true
    }

    /// The part of ``rootTemplate`` before the first placeholder: it must exist.
    var fixedRootPrefix: String? {
        guard let rootTemplate else { return nil }
        guard let brace = rootTemplate.firstIndex(of: "{") else { return rootTemplate }
        let head = rootTemplate[..<brace]
        guard let slash = head.lastIndex(of: "/") else { return "." }
        return String(head[...slash])
    }
}

/// The `options:` of a rule: limits that replace the server-wide ones for its clients.
public struct RuleOptions: Sendable, Equatable {
    /// The largest blksize (never above the server's own maximum).
    public var maximumBlockSize: Int?
    /// The largest windowsize; 1 turns windows off.
    public var maximumWindowSize: Int?
    /// Never acknowledge tsize (Aptio UEFI aborts on an unrequested one).
    public var neverSendTransferSize = false
    /// The first retransmission timeout, in milliseconds.
    public var retransmitTimeoutMilliseconds: Int?

    public init() {}
}

/// The `rewrite:` of a rule: how a requested name is changed before the lookup.
public struct NameRewrite: @unchecked Sendable {
    // The regex is immutable once built.
    /// Replace `\` with `/` first (Windows-style names from some firmware).
    public var backslashToSlash = false
    /// Look the name up ignoring case, component by component.
    public var caseInsensitive = false
    /// A regex substitution, as in tftpd-hpa's map file: `\1`…`\9` in the replacement are
    /// the captures (the first match is replaced).
    public private(set) var substitution: (pattern: Regex<AnyRegexOutput>, source: String, replacement: String)?

    public init() {}

    /// Sets the substitution.
    /// - Throws: ``RuleError`` when `pattern` is not a valid regular expression.
    public mutating func substitute(_ pattern: String, with replacement: String) throws(RuleError) {
        do {
            substitution = (try Regex(pattern), pattern, replacement)
        } catch {
            throw RuleError("rewrite pattern \(pattern.debugDescription) is not a valid regular expression: \(error)")
        }
    }

    /// Whether this changes anything.
    public var isEmpty: Bool { !backslashToSlash && !caseInsensitive && substitution == nil }

    /// `name` rewritten (the case-insensitive lookup happens later, against the directory).
    func apply(to name: String) -> String {
        var result = backslashToSlash ? String(name.map { $0 == "\\" ? "/" : $0 }) : name
        if let substitution, let match = try? substitution.pattern.firstMatch(in: result) {
            result.replaceSubrange(match.range, with: Self.expand(substitution.replacement, with: match.output))
        }
        return result
    }

    /// `replacement` with `\0`…`\9` replaced by the match's captures.
    private static func expand(_ replacement: String, with output: AnyRegexOutput) -> String {
        var result = ""
        var characters = Array(replacement)[...]
        while let character = characters.popFirst() {
            if character == "\\", let next = characters.first, let index = next.wholeNumberValue {
                characters.removeFirst()
                if index < output.count, let captured = output[index].substring { result += captured }
            } else {
                result.append(character)
            }
        }
        return result
    }
}

extension BootRule: Hashable {
    /// Everything the rule says, as text: two rules are equal when they say the same.
    private var signature: String {
        let substitution = rewrite.substitution.map { "\($0.source)=>\($0.replacement)" } ?? ""
        return [
            name, clients.map(\.description).joined(separator: ","), mac?.description ?? "", namePattern?.description ?? "",
            rootTemplate ?? "", "\(rewrite.backslashToSlash)", "\(rewrite.caseInsensitive)", substitution,
            "\(options.maximumBlockSize ?? -1)", "\(options.maximumWindowSize ?? -1)", "\(options.neverSendTransferSize)",
            "\(options.retransmitTimeoutMilliseconds ?? -1)",
        ].joined(separator: "\u{1f}")
    }

    public static func == (lhs: BootRule, rhs: BootRule) -> Bool { lhs.signature == rhs.signature }
    public func hash(into hasher: inout Hasher) { hasher.combine(signature) }
}
