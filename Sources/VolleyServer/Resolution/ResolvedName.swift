/// A requested name after the rules: where to look, under which name, and what the rule changes.
struct ResolvedName {
    /// The matched rule's name, nil when none matched.
    var rule: String?
    /// The root the name is looked up under.
    var root: ConfinedRoot
    /// The name's bytes to look up (the client's own bytes when no rule rewrote them).
    var name: [UInt8]
    /// Protocol overrides of the rule (TFTP options; a protocol without them ignores them).
    var options: RuleOptions

    /// The name as served, for events and logs.
    var servedName: String { String(decoding: name, as: UTF8.self) }
}
