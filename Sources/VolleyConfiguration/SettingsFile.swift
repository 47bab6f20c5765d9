import Foundation
import Yams

/// Reads `volley serve`'s YAML configuration into ``VolleySettings``.
///
/// Unknown keys are an error (with the nearest known key suggested), so a typo never
/// silently falls back to a default; every error is one line.
public enum SettingsFile {
    /// Applies the file at `path` on top of `settings`.
    public static func load(_ path: String, into settings: inout VolleySettings) throws(SettingsError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SettingsError(Self.unreadable(path, error))
        }
        try parse(yaml: text, into: &settings)
    }

    /// Applies YAML text on top of `settings` (empty text changes nothing).
    public static func parse(yaml text: String, into settings: inout VolleySettings) throws(SettingsError) {
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch let error as YamlError {
            throw SettingsError("not valid YAML: \(describe(error))")
        } catch {
            throw SettingsError("not valid YAML: \(error)".replacingOccurrences(of: "\n", with: " "))
        }
        guard let node else { return }
        guard let mapping = node as? [String: Any] else { throw SettingsError("expected a mapping of settings at the top level") }
        for key in mapping.keys.sorted() {
            guard let definition = SettingsTable.definition(forKey: key) else {
                let suggestion = nearestKey(to: key).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw SettingsError("unknown key \"\(key)\"\(suggestion)")
            }
            try definition.store(&settings, try value(mapping[key] as Any, for: definition))
        }
    }

    private static func value(_ raw: Any, for definition: SettingDefinition) throws(SettingsError) -> SettingValue {
        switch (definition.kind, raw) {
        case (.integer, let number as Int): return .integer(number)
        case (.boolean, let flag as Bool): return .boolean(flag)
        case (.text, let string as String): return .text(string)
        case (.text, let number as Int): return .text(String(number))
        case (.text, is NSNull): return .text("")
        default: throw SettingsError("\(definition.key): expected \(definition.expectation)")
        }
    }

    /// "line 3, column 7: did not find expected key".
    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return "\(where_): \(what)"
        default:
            return "\(error)".split(separator: "\n").joined(separator: " ")
        }
    }

    /// Why a file cannot be read, in plain words.
    private static func unreadable(_ path: String, _ error: any Error) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "cannot read \(path): it does not exist" }
        if isDirectory.boolValue { return "cannot read \(path): it is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "cannot read \(path): permission denied" }
        return "cannot read \(path): not UTF-8 text"
    }

    /// The known key closest to `key` by edit distance, when it is close enough to be a typo.
    public static func nearestKey(to key: String) -> String? {
        let scored = SettingsTable.all.map { ($0.key, editDistance(key, $0.key)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, key.count / 3) else { return nil }
        return best.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
