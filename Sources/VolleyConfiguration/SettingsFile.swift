import Foundation
import VolleySystem
import Yams

/// Reads `volley serve`'s YAML configuration into ``VolleySettings``.
///
/// Unknown keys are an error (with the nearest known key suggested), so a typo never
/// silently falls back to a default; every error is one line.
public enum SettingsFile {
    /// Applies the file at `path` on top of `settings`.
    public static func load(_ path: String, into settings: inout VolleySettings) throws(SettingsError) {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readSmallFileBytes(path, limit: maximumFileBytes + 1)
        } catch {
            throw SettingsError(Self.unreadable(path, error))
        }
        let shown = oneLine(path)
        guard bytes.count <= maximumFileBytes else {
            throw SettingsError("cannot read \(shown): it is larger than \(maximumFileBytes >> 20) MiB")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SettingsError("cannot read \(shown): not UTF-8 text")
        }
        try parse(yaml: text, into: &settings)
    }

    /// The largest configuration file read: far more than any lab's rules need.
    public static let maximumFileBytes = 16 << 20

    /// The most values a document may hold, counting every use of an alias again: a settings file holds a few
    /// dozen, and the limit keeps a file of nested aliases ("billion laughs") from taking the time and memory of
    /// building it.
    public static let maximumValueCount = 10_000

    /// Applies YAML text on top of `settings` (empty text changes nothing).
    public static func parse(yaml text: String, into settings: inout VolleySettings) throws(SettingsError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw SettingsError("not valid YAML: \(describe(error, in: text))")
        } catch {
            throw SettingsError(oneLine("not valid YAML: \(error)"))
        }
        guard let root else { return }
        // Yams builds every mapping with `String.construct(from: key)!`: a key that is a sequence or a mapping,
        // anywhere in the document, would stop the process (and a reload would stop the running server).
        try checkBeforeBuilding(root)
        guard let mapping = root.any as? [String: Any] else { throw SettingsError("expected a mapping of settings at the top level") }
        for key in mapping.keys.sorted() {
            if key == "rules" {
                settings.server.rules = try RulesFile.parse(mapping[key] as Any)
                continue
            }
            guard let definition = SettingsTable.definition(forKey: key) else {
                let suggestion = nearestKey(to: key).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw SettingsError("unknown key \(quoted(key))\(suggestion)")
            }
            try definition.store(&settings, try value(mapping[key] as Any, for: definition))
        }
    }

    /// Refuses a document Yams cannot build safely: more than ``maximumValueCount`` values, or a mapping key that
    /// is not a scalar (the first one in the document is named).
    private static func checkBeforeBuilding(_ root: Node) throws(SettingsError) {
        var count = 0
        var pending = [root]
        while let node = pending.popLast() {
            count += 1
            guard count <= maximumValueCount else {
                throw SettingsError("the document holds more than \(maximumValueCount) values (aliases counted each time they are used)")
            }
            switch node {
            case .scalar, .alias:
                break
            case .sequence(let sequence):
                pending.append(contentsOf: sequence)
            case .mapping(let mapping):
                for (key, value) in mapping {
                    pending.append(key)
                    pending.append(value)
                }
            }
        }
        if let key = firstNonScalarKey(in: root) {
            let kind = key.mapping != nil ? "mapping" : key.sequence != nil ? "sequence" : "alias"
            let location = key.mark.map { "line \($0.line), column \($0.column): " } ?? ""
            throw SettingsError("\(location)a key must be a setting name, not a \(kind)")
        }
        if let number = firstIntegerYamsCannotBuild(in: root) {
            let location = number.mark.map { "line \($0.line), column \($0.column): " } ?? ""
            throw SettingsError("\(location)the number \(quoted(number.string)) is out of range")
        }
    }

    /// The first scalar, in document order, that YAML 1.1 reads as a base-60 integer (`1:30` is 90) too large
    /// for an `Int`: Yams computes those with trapping arithmetic, so building the document would stop the process.
    private static func firstIntegerYamsCannotBuild(in node: Node) -> Node.Scalar? {
        switch node {
        case .scalar(let scalar):
            guard scalar.string.contains(":"), node.tag.rawValue == Tag.Name.int.rawValue,
                scalar.style == .any || scalar.style == .plain
            else { return nil }
            return baseSixtyFits(scalar.string) ? nil : scalar
        case .alias:
            return nil
        case .sequence(let sequence):
            return sequence.lazy.compactMap { firstIntegerYamsCannotBuild(in: $0) }.first
        case .mapping(let mapping):
            for (key, value) in mapping {
                if let found = firstIntegerYamsCannotBuild(in: key) ?? firstIntegerYamsCannotBuild(in: value) { return found }
            }
            return nil
        }
    }

    /// Whether Yams's base-60 sum (least significant part first, the base multiplied by 60 after every part,
    /// the last included) stays within `Int`. Yams reads every part before it sums: a part that is not a number,
    /// anywhere, makes it give up, not trap.
    static func baseSixtyFits(_ text: String) -> Bool {
        var digits = Substring(text.replacingOccurrences(of: "_", with: ""))
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        let parts = digits.components(separatedBy: ":")
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count else { return true }
        var base = 1
        var value = 0
        for digit in numbers.reversed() {
            let (product, productOverflow) = digit.multipliedReportingOverflow(by: base)
            let (sum, sumOverflow) = value.addingReportingOverflow(product)
            let (nextBase, baseOverflow) = base.multipliedReportingOverflow(by: 60)
            if productOverflow || sumOverflow || baseOverflow { return false }
            (value, base) = (sum, nextBase)
        }
        return true
    }

    /// The first mapping key, in document order, that is not a scalar (the tree is known to be small).
    private static func firstNonScalarKey(in node: Node) -> Node? {
        switch node {
        case .scalar, .alias:
            return nil
        case .sequence(let sequence):
            return sequence.lazy.compactMap { firstNonScalarKey(in: $0) }.first
        case .mapping(let mapping):
            for (key, value) in mapping {
                if key.scalar == nil { return key }
                if let found = firstNonScalarKey(in: value) { return found }
            }
            return nil
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

    /// "line 3, column 7: did not find expected key", always one line (Yams's own descriptions quote the
    /// document's line raw, control characters included).
    private static func describe(_ error: YamlError, in text: String) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return oneLine("\(where_): \(what)")
        case .reader(let problem, let offset, let value, _):
            let character = value >= 0 ? " (\(codePoint(UInt32(value))))" : ""
            guard let offset, let (line, column) = lineAndColumn(of: offset, in: text) else { return oneLine("\(problem)\(character)") }
            return oneLine("line \(line), column \(column): \(problem)\(character)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map(quoted).joined(separator: ", ")
            return "line \(context.mark.line), column \(context.mark.column): the same key twice in a mapping: \(keys)"
        default:
            return oneLine("\(error)")
        }
    }

    /// Line and column (from 1) of the character at `offset` (counted in characters, as Yams's reader errors are).
    private static func lineAndColumn(of offset: Int, in text: String) -> (Int, Int)? {
        guard let index = text.index(text.startIndex, offsetBy: offset, limitedBy: text.endIndex) else { return nil }
        var line = 1, column = 1
        for character in text[..<index] {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// `U+000C`.
    private static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Whether a scalar could break or disguise a line of a message: control characters (CR, LF, VT, FF, NEL, NUL,
    /// ESC, …), format characters (bidirectional overrides, zero-width spaces) and the line and paragraph separators.
    private static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case "\0": "\\0"
        default: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        }
    }

    /// User text in double quotes, escaped as a Swift string literal would be (`"a\nb"`, `"say \"hi\""`,
    /// `"\u{B}"`), so a message quoting it stays one line and shows what the file holds.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where needsEscaping(scalar): result += escaped(scalar)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `message` with every control, format or line-separating character escaped (`\n`, `\u{C}`).
    static func oneLine(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: needsEscaping) else { return message }
        var result = ""
        for scalar in message.unicodeScalars {
            if needsEscaping(scalar) { result += escaped(scalar) } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    /// Why a file cannot be read, in plain words.
    private static func unreadable(_ path: String, _ error: SystemError) -> String {
        let shown = oneLine(path)
        switch error.errno {
        case .noSuchFileOrDirectory, .notDirectory: return "cannot read \(shown): it does not exist"
        case .isDirectory: return "cannot read \(shown): it is a directory"
        case .permissionDenied: return "cannot read \(shown): permission denied"
        default: return "cannot read \(shown): \(error)"
        }
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
