
/// A value of a setting, from YAML or from a flag.
public enum SettingValue: Equatable, Sendable {
    case integer(Int)
    case boolean(Bool)
    case text(String)
}

/// One setting of `volley serve`, defined once: its YAML key, its flag, its default, its
/// meaning, and where its value goes. The YAML parser, the flags' help, `volley settings`
/// and the tests that check the README and the packaged `volley.yaml` all read this.
public struct SettingDefinition: Sendable {
    /// The kind of value the setting takes.
    public enum Kind: Sendable, Equatable {
        case integer, boolean, text
    }

    /// The YAML key (`max_block_size`).
    public let key: String
    /// The long flag without dashes (`max-block-size`); booleans also get `--no-…`. Nil: YAML only.
    public let flag: String?
    /// The flag's value name in help (`bytes`); ignored for booleans.
    public let valueName: String
    public let kind: Kind
    /// The default, as the help and the reference show it.
    public let defaultText: String
    /// What the setting does, one or two sentences.
    public let meaning: String
    /// Reads the setting's value.
    public let current: @Sendable (VolleySettings) -> SettingValue
    /// Stores a value of the right kind into the settings.
    public let store: @Sendable (inout VolleySettings, SettingValue) throws(SettingsError) -> Void

    /// The value as YAML would write it.
    public func yamlText(of settings: VolleySettings) -> String {
        switch current(settings) {
        case .integer(let number): String(number)
        case .boolean(let on): on ? "true" : "false"
        case .text(let string): string.isEmpty ? "\"\"" : string
        }
    }

    /// The flag's help: the meaning and the default.
    public var help: String { "\(meaning) (default: \(defaultText))" }

    /// How a value of this kind is described in errors.
    public var expectation: String {
        switch kind {
        case .integer: "a whole number"
        case .boolean: "true or false"
        case .text: "a string"
        }
    }
}

/// Builds the `store` closures of the table.
extension SettingDefinition {
    static func integer(
        _ key: String, flag: String?, valueName: String, default defaultText: String, _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, Int> & Sendable
    ) -> SettingDefinition {
        SettingDefinition(key: key, flag: flag, valueName: valueName, kind: .integer, defaultText: defaultText, meaning: meaning,
                           current: { .integer($0[keyPath: keyPath]) }) {
            settings, value throws(SettingsError) in
            guard case .integer(let number) = value else { throw SettingsError("\(key): expected a whole number") }
            settings[keyPath: keyPath] = number
        }
    }

    static func boolean(
        _ key: String, flag: String?, default defaultText: String, _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, Bool> & Sendable
    ) -> SettingDefinition {
        SettingDefinition(key: key, flag: flag, valueName: "", kind: .boolean, defaultText: defaultText, meaning: meaning,
                           current: { .boolean($0[keyPath: keyPath]) }) {
            settings, value throws(SettingsError) in
            guard case .boolean(let on) = value else { throw SettingsError("\(key): expected true or false") }
            settings[keyPath: keyPath] = on
        }
    }

    static func text(
        _ key: String, flag: String?, valueName: String, default defaultText: String, _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, String> & Sendable
    ) -> SettingDefinition {
        SettingDefinition(key: key, flag: flag, valueName: valueName, kind: .text, defaultText: defaultText, meaning: meaning,
                           current: { .text($0[keyPath: keyPath]) }) {
            settings, value throws(SettingsError) in
            guard case .text(let string) = value else { throw SettingsError("\(key): expected a string") }
            settings[keyPath: keyPath] = string
        }
    }

    /// `reactors`: `auto` (stored as 0) or a number of reactor threads.
    static func reactorCount(_ key: String, flag: String?, default defaultText: String, _ meaning: String) -> SettingDefinition {
        SettingDefinition(key: key, flag: flag, valueName: "n|auto", kind: .text, defaultText: defaultText, meaning: meaning,
                           current: { .text($0.server.reactors == 0 ? "auto" : String($0.server.reactors)) }) {
            settings, value throws(SettingsError) in
            let text: String
            switch value {
            case .text(let string): text = string.lowercased()
            case .integer(let number): text = String(number)
            case .boolean: throw SettingsError("\(key): expected a number or auto")
            }
            if text == "auto" || text.isEmpty {
                settings.server.reactors = 0
            } else if let count = Int(text), (1...256).contains(count) {
                settings.server.reactors = count
            } else {
                throw SettingsError("\(key): \(SettingsFile.quoted(text)) is not a number from 1 to 256 or auto")
            }
        }
    }
}

/// A configuration problem, told in one line.
public struct SettingsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
