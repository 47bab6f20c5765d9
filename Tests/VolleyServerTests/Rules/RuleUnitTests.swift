import Testing
import VolleyConfiguration
import VolleyServer

@Suite("rules: matching, rewriting, parsing")
struct RuleUnitTests {
    @Test func addressRanges() throws {
        let v4 = try #require(AddressRange("10.1.0.0/16"))
        #expect(v4.contains([10, 1, 200, 3]))
        #expect(!v4.contains([10, 2, 0, 1]))
        #expect(!v4.contains(Array(repeating: 0, count: 16)))
        let one = try #require(AddressRange("127.0.0.2"))
        #expect(one.contains([127, 0, 0, 2]) && !one.contains([127, 0, 0, 1]))
        let v6 = try #require(AddressRange("fd00::/8"))
        #expect(v6.contains([0xfd] + Array(repeating: 1, count: 15)))
        #expect(AddressRange("0.0.0.0/0")?.contains([8, 8, 8, 8]) == true)
        for bad in ["10.1.0.0/33", "fd00::/129", "nonsense", "10.1.0.0/", "/8", "10.1.0.0/-1"] {
            #expect(AddressRange(bad) == nil, "\(bad)")
        }
    }

    @Test func macAddresses() {
        #expect(MACAddress("AA:bb:cc:dd:ee:0f")?.pxelinuxName == "01-aa-bb-cc-dd-ee-0f")
        #expect(MACAddress("aa-bb-cc-dd-ee-ff")?.description == "aa:bb:cc:dd:ee:ff")
        #expect(MACAddress("aa:bb:cc:dd:ee") == nil)
        #expect(MACAddress("aa:bb:cc:dd:ee:fg") == nil)
    }

    @Test func namePatterns() throws {
        let glob = try NamePattern("boot/*")
        #expect(glob.matches("boot/vmlinuz"))
        #expect(!glob.matches("boot/x/vmlinuz"))
        #expect(!glob.matches("xboot/vmlinuz"))
        #expect(try NamePattern("**.efi").matches("EFI/boot/grubx64.efi"))
        #expect(try NamePattern("pxelinux.cfg/01-??-*").matches("pxelinux.cfg/01-aa-bb"))
        #expect(!(try NamePattern("a.b")).matches("aXb"), "a dot in a glob is literal")
        #expect(try NamePattern("regex:^(grub|boot)/.*$").matches("grub/grub.cfg"))
        #expect(throws: RuleError.self) { try NamePattern("regex:(") }
    }

    @Test func rewrites() throws {
        var rewrite = NameRewrite()
        rewrite.backslashToSlash = true
        try rewrite.substitute("^pxelinux/(.*)\\.cfg$", with: "cfg/\\1")
        var rule = BootRule(name: "r")
        rule.rewrite = rewrite
        let decision = BootRules([rule]).decide(
            name: "pxelinux\\default.cfg", address: [1, 2, 3, 4], ip: "1.2.3.4", root: "/srv", mac: { nil })
        #expect(decision.name == "cfg/default")
        #expect(decision.rule == "r")
    }

    @Test("a rewrite whose result matches its own pattern again is applied once: rules cannot loop")
    func rewritesDoNotLoop() throws {
        var grow = BootRule(name: "grow")
        grow.namePattern = try NamePattern("regex:a.*")
        try grow.rewrite.substitute("^a", with: "aa")
        var second = BootRule(name: "second")
        try second.rewrite.substitute("^aa", with: "never")
        let decision = BootRules([grow, second]).decide(name: "abc", address: [1, 1, 1, 1], ip: "1.1.1.1", root: "/r", mac: { nil })
        #expect(decision.name == "aabc" && decision.rule == "grow")
    }

    @Test func firstMatchWinsAndPlaceholdersCannotEscape() throws {
        var byMAC = BootRule(name: "by-mac")
        byMAC.mac = MACAddress("aa:bb:cc:dd:ee:ff")
        byMAC.rootTemplate = "/srv/boards/{mac}/{ip}"
        var everyone = BootRule(name: "everyone")
        everyone.rootTemplate = "/srv/{ip}"
        let rules = BootRules([byMAC, everyone])
        var lookups = 0
        let matched = rules.decide(name: "k", address: [10, 0, 0, 1], ip: "10.0.0.1", root: "/srv/tftp") {
            lookups += 1
            return MACAddress("aa:bb:cc:dd:ee:ff")
        }
        #expect(matched.rule == "by-mac")
        #expect(matched.rootDirectory == "/srv/boards/01-aa-bb-cc-dd-ee-ff/10.0.0.1")
        #expect(lookups == 1, "the neighbour table was read more than once for one request")
        let other = rules.decide(name: "k", address: [10, 0, 0, 2], ip: "10.0.0.2", root: "/srv/tftp") { MACAddress("00:00:00:00:00:01") }
        #expect(other.rule == "everyone" && other.rootDirectory == "/srv/10.0.0.2")
        #expect("/srv/{ip}".replacingPlaceholderForTest("..") == "/srv/_")
        let none = BootRules([]).decide(name: "k", address: [1, 1, 1, 1], ip: "1.1.1.1", root: "/srv/tftp") { nil }
        #expect(none.rule == nil && none.rootDirectory == "/srv/tftp")
    }

    @Test func parsingErrorsNameTheRuleInOneLine() {
        let cases: [(String, String)] = [
            ("rules: 3\n", "rules: expected a list"),
            ("rules:\n  - match: { client: 10.0.0.0/99 }\n", "rules[0]: match.client \"10.0.0.0/99\""),
            ("rules:\n  - name: x\n    match: { colour: red }\n", "rules[0] (x): unknown key \"colour\""),
            ("rules:\n  - roots: /srv\n", "rules[0]: unknown key \"roots\""),
            ("rules:\n  - root: relative/dir\n", "root must be an absolute path"),
            ("rules:\n  - options: { tsize: sometimes }\n", "options.tsize \"sometimes\""),
            ("rules:\n  - options: { max_window_size: 0 }\n", "options.max_window_size must be a whole number from 1 to 1024"),
            ("rules:\n  - rewrite: { regex: \"(\" , replacement: x }\n", "is not a valid regular expression"),
            ("rules:\n  - rewrite: { regex: \"a\" }\n", "regex and replacement go together"),
            ("rules:\n  - match: { mac: \"zz\" }\n", "match.mac \"zz\" is not a MAC address"),
            ("rules:\n  - name: \"two\\nlines\"\n", "rules[0]: name \"two\\nlines\" must be up to 64 letters"),
        ]
        for (yaml, expected) in cases {
            var settings = VolleySettings()
            let error = #expect(throws: SettingsError.self, "\(yaml)") { try SettingsFile.parse(yaml: yaml, into: &settings) }
            #expect(error?.description.contains(expected) == true, "\(yaml): \(error?.description ?? "")")
            #expect(error?.description.contains("\n") == false)
        }
        var settings = VolleySettings()
        #expect(throws: Never.self) {
            try SettingsFile.parse(
                yaml: "rules:\n  - match: { name: \"*\" }\n    rewrite: { backslash_to_slash: true, case_insensitive: true }\n",
                into: &settings)
        }
        #expect(settings.server.rules.rules.count == 1)
        #expect(settings.server.rules.rules[0].rewrite.caseInsensitive)
    }
}

extension String {
    /// The placeholder substitution rules use, reached through a one-rule decision.
    func replacingPlaceholderForTest(_ ip: String) -> String {
        var rule = BootRule(name: "t")
        rule.rootTemplate = self
        return BootRules([rule]).decide(name: "x", address: [1, 1, 1, 1], ip: ip, root: "/", mac: { nil }).rootDirectory
    }
}
