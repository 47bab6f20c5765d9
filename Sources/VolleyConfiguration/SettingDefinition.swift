import VolleyServer

/// A value of a setting, from YAML or from a flag.
public enum SettingValue: Equatable, Sendable, Encodable {
    case integer(Int)
    case boolean(Bool)
    case text(String)

    /// The bare value, as JSON writes it (`65464`, `false`, `"text"`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .integer(let number): try container.encode(number)
        case .boolean(let on): try container.encode(on)
        case .text(let string): try container.encode(string)
        }
    }
}

/// One setting of `volley serve`, defined once: its YAML key, its flag, its default, its
/// meaning, and where its value goes. The YAML parser, the flags' help, `volley settings`
/// and the tests that check the README and the packaged `volley.yaml` all read this.
public struct SettingDefinition: Sendable {
    /// The kind of value the setting takes.
    public enum Kind: String, Sendable, Equatable, Encodable {
        case integer, boolean, text
    }

    /// The YAML key (`max_block_size`).
    public let key: String
    /// The long flag without dashes (`max-block-size`); booleans also get `--no-…`. Nil: YAML only.
    public let flag: String?
    /// The flag's value name in help (`bytes`); ignored for booleans.
    public let valueName: String
    public let kind: Kind
    /// The default, as the help and the reference show it: the value of `VolleySettings()`,
    /// or a word for an empty one ("auto-detect", "none", "off").
    public let defaultText: String
    /// The whole numbers it accepts, for those that have a range (checked by
    /// `TFTPServerConfiguration.validationError()`, which defines them).
    public let range: ClosedRange<Int>?
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

    /// The flag's help: the meaning, the range and the default.
    public var help: String {
        guard let range else { return "\(meaning) (default: \(defaultText))" }
        return "\(meaning) (\(range.lowerBound)-\(range.upperBound); default: \(defaultText))"
    }

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
    /// An integer setting; its default is the value `VolleySettings()` holds.
    static func integer(
        _ key: String, flag: String?, valueName: String, range: ClosedRange<Int>? = nil, _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, Int> & Sendable
    ) -> SettingDefinition {
        SettingDefinition(
            key: key, flag: flag, valueName: valueName, kind: .integer,
            defaultText: String(VolleySettings()[keyPath: keyPath]), range: range, meaning: meaning,
            current: { .integer($0[keyPath: keyPath]) }
        ) {
            settings, value throws(SettingsError) in
            guard case .integer(let number) = value else { throw SettingsError("\(key): expected a whole number") }
            settings[keyPath: keyPath] = number
        }
    }

    /// A boolean setting; its default (on or off) is the value `VolleySettings()` holds.
    static func boolean(
        _ key: String, flag: String?, _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, Bool> & Sendable
    ) -> SettingDefinition {
        SettingDefinition(
            key: key, flag: flag, valueName: "", kind: .boolean,
            defaultText: VolleySettings()[keyPath: keyPath] ? "on" : "off", range: nil, meaning: meaning,
            current: { .boolean($0[keyPath: keyPath]) }
        ) {
            settings, value throws(SettingsError) in
            guard case .boolean(let on) = value else { throw SettingsError("\(key): expected true or false") }
            settings[keyPath: keyPath] = on
        }
    }

    /// A text setting; its default is the value `VolleySettings()` holds, shown as `whenEmpty`
    /// when that is empty.
    static func text(
        _ key: String, flag: String?, valueName: String, whenEmpty: String = "none", _ meaning: String,
        _ keyPath: WritableKeyPath<VolleySettings, String> & Sendable
    ) -> SettingDefinition {
        let value = VolleySettings()[keyPath: keyPath]
        return SettingDefinition(
            key: key, flag: flag, valueName: valueName, kind: .text,
            defaultText: value.isEmpty ? whenEmpty : value, range: nil, meaning: meaning,
            current: { .text($0[keyPath: keyPath]) }
        ) {
            settings, value throws(SettingsError) in
            guard case .text(let string) = value else { throw SettingsError("\(key): expected a string") }
            settings[keyPath: keyPath] = string
        }
    }

    /// `reactors`: `auto` (stored as 0) or a number of reactor threads.
    static func reactorCount(_ key: String, flag: String?, _ meaning: String) -> SettingDefinition {
        let range = TFTPServerConfiguration.reactorsRange
        let defaultCount = VolleySettings().server.reactors
        return SettingDefinition(
            key: key, flag: flag, valueName: "n|auto", kind: .text,
            defaultText: defaultCount == 0 ? "auto" : String(defaultCount), range: nil, meaning: meaning,
            current: { .text($0.server.reactors == 0 ? "auto" : String($0.server.reactors)) }
        ) {
            settings, value throws(SettingsError) in
            let text: String
            switch value {
            case .text(let string): text = string.lowercased()
            case .integer(let number): text = String(number)
            case .boolean: throw SettingsError("\(key): expected a number or auto")
            }
            if text == "auto" || text.isEmpty {
                settings.server.reactors = 0
            } else if let count = Int(text), range.contains(count) {
                settings.server.reactors = count
            } else {
                throw SettingsError(
                    "\(key): \(SettingsFile.quoted(text)) is not a number from \(range.lowerBound) to \(range.upperBound) or auto")
            }
        }
    }
}

/// A configuration problem, told in one line.
public struct SettingsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
