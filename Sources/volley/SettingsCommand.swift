import ArgumentParser
import Foundation
import VolleyConfiguration

/// `volley settings`: every YAML key with its flag, default and meaning.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every setting: YAML key, flag, default and meaning.",
        discussion: "The YAML keys go in the file given to `volley serve --config`; the flags override the file."
    )

    @Flag(name: .long, help: "Print the list as YAML with every key at its default, each explained in a comment.")
    var yaml = false

    @Flag(
        name: .long,
        help:
            "Print the list as JSON, one object per setting (key, flag, type, default, minimum, maximum, meaning, rule_option), for programs such as the Jumpstarter driver."
    )
    var json = false

    func validate() throws {
        if yaml && json { throw ValidationError("--yaml and --json cannot be combined") }
    }

    func run() throws {
        let defaults = VolleySettings()
        if json {
            print(try Self.json(defaults))
            return
        }
        for setting in SettingsTable.all {
            if yaml {
                print("# \(setting.meaning)" + (setting.range.map { " (\($0.lowerBound)-\($0.upperBound))" } ?? ""))
                print("\(setting.key): \(setting.yamlText(of: defaults))\n")
            } else {
                let flag = setting.flag.map { setting.kind == .boolean ? "--[no-]\($0)" : "--\($0)" } ?? "(YAML only)"
                let range = setting.range.map { "  range: \($0.lowerBound)-\($0.upperBound)" } ?? ""
                print("\(setting.key)  \(flag)  default: \(setting.defaultText)\(range)\n    \(setting.meaning)")
            }
        }
    }

    /// One setting as `--json` prints it.
    private struct Entry: Encodable {
        var key: String
        /// `--max-block-size`; nil for a YAML-only key. Booleans also take `--no-…`.
        var flag: String?
        /// `integer`, `boolean` or `text`.
        var type: SettingDefinition.Kind
        /// The default value, typed (an empty text for "none").
        var `default`: SettingValue
        /// The default as `--help` shows it.
        var defaultText: String
        var minimum: Int?
        var maximum: Int?
        var meaning: String
        /// Whether a rule's `options:` may set it.
        var ruleOption: Bool

    }

    private static func json(_ defaults: VolleySettings) throws -> String {
        let ruleOptions = Set(SettingsTable.ruleOptions.map(\.key))
        let entries = SettingsTable.all.map { setting in
            Entry(
                key: setting.key, flag: setting.flag.map { "--\($0)" }, type: setting.kind, default: setting.current(defaults),
                defaultText: setting.defaultText, minimum: setting.range?.lowerBound, maximum: setting.range?.upperBound,
                meaning: setting.meaning, ruleOption: ruleOptions.contains(setting.key))
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(entries), as: UTF8.self)
    }
}
