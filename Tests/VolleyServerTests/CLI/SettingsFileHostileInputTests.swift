import Foundation
import Testing
import VolleyConfiguration

/// What ConfigurationFuzzer found (fuzz/README.md, "Fixed"): a `volley.yaml` that is hostile or just broken must
/// give one line of error, never stop the process — `volley serve --config` reports it, a SIGHUP reload refuses it.
@Suite("Settings file: hostile input gives one line of error, never a trap")
struct SettingsFileHostileInputTests {
    /// The scalars that break a line on a terminal or in the journal.
    private static let lineBreaks: Set<Unicode.Scalar> = ["\n", "\u{0B}", "\u{0C}", "\r", "\u{85}", "\u{2028}", "\u{2029}"]

    private static func isOneLine(_ message: String) -> Bool {
        !message.isEmpty && !message.unicodeScalars.contains(where: lineBreaks.contains)
    }

    /// The error `parse` throws for `yaml`, or nil when it accepts it.
    private static func parseError(_ yaml: String) -> String? {
        var settings = VolleySettings()
        do {
            try SettingsFile.parse(yaml: yaml, into: &settings)
            return nil
        } catch {
            return error.description
        }
    }

    /// `<package root>/<relative>`.
    private static func repositoryPath(_ relative: String, filePath: String = #filePath) -> String {
        var root = filePath as NSString
        for _ in 0..<4 { root = root.deletingLastPathComponent as NSString }
        return (root as String) + "/" + relative
    }

    @Test(
        "a key that is a sequence or a mapping is refused, at the top or nested",
        arguments: [
            ("? [a, b]\n: 1\n", "line 1, column 3: a key must be a setting name, not a sequence"),
            ("host: {? {a: 1}\n : 2}\n", "line 1, column 10: a key must be a setting name, not a mapping"),
            ("port: 69\nhost: [1, {? [x] : y}]\n", "line 2, column 14: a key must be a setting name, not a sequence"),
            ("a: &k [x]\nb: {? *k : 1}\n", "line 1, column 4: a key must be a setting name, not a sequence"),
        ])
    func nonScalarKeys(yaml: String, expected: String) {
        #expect(Self.parseError(yaml) == expected)
    }

    @Test func aDocumentOfNestedAliasesIsRefusedBeforeItIsBuilt() {
        // 10 levels of 10 aliases: 10^10 values if built.
        var yaml = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...10 {
            let uses = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            yaml += "l\(level): &l\(level) [\(uses)]\n"
        }
        let clock = ContinuousClock()
        var message: String?
        let elapsed = clock.measure { message = Self.parseError(yaml) }
        #expect(
            message == "the document holds more than \(SettingsFile.maximumValueCount) values (aliases counted each time they are used)")
        #expect(elapsed < .seconds(5))
        // A few aliases stay fine: the committed alias seed (27 values through port) is refused for its keys, not
        // its size; and a setting may take its value from an alias.
        #expect(
            Self.parseError("a: &a [\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nport: *c\n")
                == "unknown key \"a\"")
        #expect(Self.parseError("root_dir: &r /srv/tftp\nuser: *r\n") == nil)
    }

    @Test func quotedKeysAreEscaped() {
        #expect(Self.parseError("\"root\\ndir\": /srv\n") == "unknown key \"root\\ndir\" (did you mean \"root_dir\"?)")
        #expect(Self.parseError("\"say \\\"hi\\\"\\\\\": 1\n") == "unknown key \"say \\\"hi\\\"\\\\\"")
        #expect(Self.parseError("\"a\\u2028b\\x0Bc\\e\\0\": 1\n") == "unknown key \"a\\u{2028}b\\u{B}c\\u{1B}\\0\"")
        // A typo next to a line break still gets its suggestion, on the same line.
        #expect(Self.parseError("\"max_blocksize\\r\": 1468\n") == "unknown key \"max_blocksize\\r\" (did you mean \"max_block_size\"?)")
        // Ordinary keys read as before.
        #expect(Self.parseError("colour: blue\n") == "unknown key \"colour\"")
    }

    @Test func duplicateKeysWithLineBreaksAreEscaped() throws {
        let message = try #require(Self.parseError("\"a\\nb\": 1\n\"a\\nb\": 2\n"))
        #expect(Self.isOneLine(message), "\(message.debugDescription)")
        #expect(message.hasPrefix("not valid YAML: line "), "\(message)")
        #expect(message.contains("\"a\\nb\""), "\(message)")
        let plain = try #require(Self.parseError("port: 69\nport: 70\n"))
        #expect(plain.hasPrefix("not valid YAML: ") && Self.isOneLine(plain), "\(plain)")
    }

    @Test func logLevelAndFormatValuesAreEscaped() throws {
        var settings = VolleySettings()
        try SettingsFile.parse(yaml: "log_level: \"info\\nFAKE critical line\"\nlog_format: \"json\\r\\ntext\"\n", into: &settings)
        let level = #expect(throws: SettingsError.self) { try settings.parsedLogLevel() }
        #expect(
            level?.description
                == "log level \"info\\nFAKE critical line\" is not one of trace, debug, info, notice, warning, error, critical")
        let format = #expect(throws: SettingsError.self) { try settings.parsedLogFormat() }
        #expect(format?.description == "log format \"json\\r\\ntext\" is not one of text, json")
        settings.logLevel = "Debug"
        settings.logFormat = "JSON"
        #expect(throws: Never.self) { try settings.parsedLogLevel() }
        #expect(throws: Never.self) { try settings.parsedLogFormat() }
    }

    @Test(
        "reader errors (control characters) name the line and the character, on one line",
        arguments: [
            ("port: 69\r\nhost: a\u{01}b\r\n", "not valid YAML: line 2, column 8: control characters are not allowed (U+0001)"),
            ("log_level: \u{0C}\u{01}info\n", "not valid YAML: line 1, column 12: control characters are not allowed (U+000C)"),
            ("port: 69\nhost: \u{0B}\n", "not valid YAML: line 2, column 7: control characters are not allowed (U+000B)"),
        ])
    func readerErrors(yaml: String, expected: String) {
        #expect(Self.parseError(yaml) == expected)
    }

    @Test func scannerAndParserErrorsStayOneLineWithCRLF() throws {
        for yaml in ["port: 69\r\nhost: [oops\r\n", "port: 69\r\n  host: x\r\n\tbad: 1\r\n", "\"unclosed\r\n"] {
            let message = try #require(Self.parseError(yaml))
            #expect(message.hasPrefix("not valid YAML: line "), "\(message)")
            #expect(Self.isOneLine(message), "\(message.debugDescription)")
        }
    }

    /// YAML 1.1 reads `1:30` as 90; Yams computes such numbers with trapping arithmetic, so one too large for an
    /// Int stopped `volley serve --config` (and a SIGHUP reload, the running server), whatever its key.
    @Test func baseSixtyNumbersBeyondIntAreRefusedNotTrapped() throws {
        for (yaml, quotedNumber) in [
            ("retrport: 4999999999999999999:9\n", "\"4999999999999999999:9\""),
            ("port: 1:1:1:1:1:1:1:1:1:1:1\n", "\"1:1:1:1:1:1:1:1:1:1:1\""),
            ("log_level: info\nx: [1, {y: -153722867280912931:0:0}]\n", "\"-153722867280912931:0:0\""),
        ] {
            var settings = VolleySettings()
            let error = #expect(throws: SettingsError.self) { try SettingsFile.parse(yaml: yaml, into: &settings) }
            #expect(error?.description.hasSuffix("the number \(quotedNumber) is out of range") == true, "\(String(describing: error))")
        }
        var settings = VolleySettings()
        try SettingsFile.parse(yaml: "port: 1:30\n", into: &settings)
        #expect(settings.server.port == 90)
        try SettingsFile.parse(yaml: "port: 1:1:1:1:1:1:1:1:1:1\n", into: &settings)
        #expect(settings.server.port > 0, "ten parts still fit an Int")
    }

    /// Yams reads every part of a base-60 number before it sums them: a part that is not a number gives up on the
    /// number, whatever the parts to its right would have overflowed to (found by ConfigurationFuzzer). Such a
    /// value is not out of range, so the document's real problem is reported: here its unknown key.
    @Test func aBaseSixtyNumberWithAPartThatIsNotANumberIsNotOutOfRange() throws {
        var settings = VolleySettings()
        let error = #expect(throws: SettingsError.self) {
            try SettingsFile.parse(yaml: "mxri: !!int a:-8446744073709551615:0\n", into: &settings)
        }
        #expect(error?.description.hasPrefix("unknown key \"mxri\"") == true, "\(String(describing: error))")
    }

    @Test func anUnreadablePathIsShownOnOneLine() {
        var settings = VolleySettings()
        let error = #expect(throws: SettingsError.self) { try SettingsFile.load("/nonexistent\nFAKE line.yaml", into: &settings) }
        #expect(error?.description == "cannot read /nonexistent\\nFAKE line.yaml: it does not exist")
    }

    /// Every seed of ConfigurationFuzzer, the fuzzer's reproducers included: no trap, and any error is one line.
    @Test func everyFuzzerSeedParsesOrGivesOneLine() throws {
        let directory = Self.repositoryPath("fuzz/corpus/ConfigurationFuzzer")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for reproducer in [
            "complex-key", "nested-non-scalar-key", "quoted-key-newline", "log-level-newline",
            "crlf-control-character", "form-feed-control-character", "base60-overflow", "base60-eleven-parts",
        ] {
            #expect(names.contains(reproducer), "the reproducer \(reproducer) is missing from \(directory)")
        }
        for name in names {
            let data = try #require(FileManager.default.contents(atPath: directory + "/" + name))
            let text = String(decoding: data, as: UTF8.self)
            var settings = VolleySettings()
            do {
                try SettingsFile.parse(yaml: text, into: &settings)
            } catch {
                #expect(Self.isOneLine(error.description), "\(name): \(error.description.debugDescription)")
                continue
            }
            if let message = settings.server.validationError() { #expect(Self.isOneLine(message), "\(name): \(message.debugDescription)") }
            do { _ = try settings.parsedLogLevel() } catch {
                #expect(Self.isOneLine(error.description), "\(name): \(error.description.debugDescription)")
            }
            do { _ = try settings.parsedLogFormat() } catch {
                #expect(Self.isOneLine(error.description), "\(name): \(error.description.debugDescription)")
            }
        }
    }
}
