import Foundation
import Testing
import VolleyConfiguration

/// Each setting is defined once, in `SettingsTable`; the README's table and the packaged
/// `volley.yaml` must explain every one of them, and nothing else.
@Suite("Settings reference: README and packaged volley.yaml follow the settings table")
struct SettingsReferenceTests {
    /// `<package root>/<relative>`.
    private static func repositoryFile(_ relative: String, filePath: String = #filePath) throws -> String {
        var root = filePath as NSString
        for _ in 0..<4 { root = root.deletingLastPathComponent as NSString }
        return try String(contentsOfFile: (root as String) + "/" + relative, encoding: .utf8)
    }

    @Test func theReadmeTableHasEveryKeyAndNoOther() throws {
        let readme = try Self.repositoryFile("README.md")
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }
        let documented = Set(
            rows.compactMap { row -> String? in
                let cell = row.dropFirst(3)
                guard let end = cell.firstIndex(of: "`") else { return nil }
                return String(cell[..<end])
            })
        for setting in SettingsTable.all {
            #expect(documented.contains(setting.key), "README's configuration table lacks \(setting.key)")
            if let flag = setting.flag {
                let row = rows.first { $0.hasPrefix("| `\(setting.key)` |") }
                #expect(row?.contains("--\(flag)") == true, "README row of \(setting.key) does not name --\(flag)")
            }
        }
        let known = Set(SettingsTable.all.map(\.key))
        let tableKeys = documented.filter { $0.contains("_") || known.contains($0) || ["host", "port"].contains($0) }
        for key in tableKeys
        where !known.contains(key) && rows.contains(where: { $0.hasPrefix("| `\(key)` | `--") || $0.hasPrefix("| `\(key)` | |") }) {
            Issue.record("README documents \(key), which volley does not know")
        }
    }

    /// The defaults the README shows are the ones the table derives from the configuration.
    @Test func theReadmeDefaultsAreTheConfigurationsDefaults() throws {
        let readme = try Self.repositoryFile("README.md")
        for setting in SettingsTable.all where setting.kind != .text {
            guard let row = readme.split(separator: "\n").first(where: { $0.hasPrefix("| `\(setting.key)` |") }) else { continue }
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let shown = cells.count > 3 ? cells[3].trimmingCharacters(in: CharacterSet(charactersIn: "`")) : ""
            #expect(shown == setting.defaultText, "README shows \(setting.key)'s default as \(shown), volley's is \(setting.defaultText)")
        }
    }

    /// A rule's `options:` take the range of the setting they override, from the same definition.
    @Test func ruleOptionsTakeTheSettingsRanges() throws {
        for setting in SettingsTable.ruleOptions {
            let range = try #require(setting.range)
            for bad in [range.lowerBound - 1, range.upperBound + 1] {
                var settings = VolleySettings()
                let error = #expect(throws: SettingsError.self) {
                    try SettingsFile.parse(yaml: "rules:\n  - options: { \(setting.key): \(bad) }\n", into: &settings)
                }
                #expect(
                    error?.description.contains("from \(range.lowerBound) to \(range.upperBound)") == true, "\(String(describing: error))")
            }
            var settings = VolleySettings()
            try SettingsFile.parse(yaml: "rules:\n  - options: { \(setting.key): \(range.upperBound) }\n", into: &settings)
        }
        // And the server's own validation says the same range.
        var configuration = VolleySettings().server
        configuration.maximumBlockSize = SettingsTable.maximumBlockSize.range!.upperBound + 1
        #expect(configuration.validationError()?.hasSuffix("(8-65464)") == true)
    }

    @Test func thePackagedConfigurationExplainsEveryKey() throws {
        let yaml = try Self.repositoryFile("packaging/volley.yaml")
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for setting in SettingsTable.all {
            // A key is set (`key: value`) or shown at its default (`#key: value`).
            let index = lines.firstIndex { line in
                let bare = line.hasPrefix("#") ? String(line.dropFirst()) : line
                return bare.hasPrefix("\(setting.key):")
            }
            guard let index else {
                Issue.record("packaging/volley.yaml does not mention \(setting.key)")
                continue
            }
            // The line above is an explanation (`# text`), not another key.
            let previous = index > 0 ? lines[index - 1] : ""
            #expect(
                previous.hasPrefix("# ") && previous.count > 2,
                "\(setting.key) in packaging/volley.yaml has no comment right above it explaining it")
        }
        // Every key the file sets is one volley knows (the file must load).
        var settings = VolleySettings()
        #expect(throws: Never.self) { try SettingsFile.parse(yaml: yaml, into: &settings) }
    }

    @Test func reactorsTakesAutoOrANumber() throws {
        var settings = VolleySettings()
        #expect(settings.server.reactors == 0)
        try SettingsFile.parse(yaml: "reactors: 3\n", into: &settings)
        #expect(settings.server.reactors == 3)
        try SettingsFile.parse(yaml: "reactors: auto\n", into: &settings)
        #expect(settings.server.reactors == 0)
        try SettingsFile.parse(yaml: "reactors: \"2\"\n", into: &settings)
        #expect(settings.server.reactors == 2)
        for bad in ["reactors: 0\n", "reactors: 257\n", "reactors: many\n", "reactors: true\n"] {
            let error = #expect(throws: SettingsError.self) { try SettingsFile.parse(yaml: bad, into: &settings) }
            #expect(error?.description.contains("reactors") == true, "\(bad): \(String(describing: error))")
        }
    }

    @Test func unknownKeysSuggestTheNearestKnownKey() {
        var settings = VolleySettings()
        let error = #expect(throws: SettingsError.self) { try SettingsFile.parse(yaml: "max_blocksize: 1468\n", into: &settings) }
        #expect(error?.description == "unknown key \"max_blocksize\" (did you mean \"max_block_size\"?)")
        let far = #expect(throws: SettingsError.self) { try SettingsFile.parse(yaml: "colour: blue\n", into: &settings) }
        #expect(far?.description == "unknown key \"colour\"")
    }

    @Test func yamlSyntaxErrorsNameTheLineAndColumn() {
        var settings = VolleySettings()
        let error = #expect(throws: SettingsError.self) { try SettingsFile.parse(yaml: "port: 69\nhost: [oops\n", into: &settings) }
        #expect(error?.description.hasPrefix("not valid YAML: line ") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("\n") == false)
    }
}
