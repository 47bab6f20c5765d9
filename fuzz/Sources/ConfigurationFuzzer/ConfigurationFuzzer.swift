// volley.yaml text through SettingsFile.parse(yaml:into:) (Yams, libyaml underneath), then the checks `volley serve`
// runs on the result. The input is the file's text (bytes decoded as UTF-8, as the file loader does).
// Checks: never traps; an error is a SettingsError whose description is one non-empty line, and it is the error the
// settings table predicts for the document as Yams reads it: not valid YAML, not a mapping, or the first key in
// sorted order that is unknown (the error names it, and a suggestion is a known key) or has a value of the wrong
// kind; a success changes only settings whose key is in the document (retransmit_timeout_ms may also raise
// max_retransmit_timeout_ms), stores exactly the values given, accepts no unknown key, and parsing the same text
// again changes nothing; validationError(), parsedLogLevel() and parsedLogFormat() never trap and report one line.
// `reactors` stores auto (for auto in any case, or empty) or a number from 1 to 256, and refuses anything else.
//
// Fixed (README.md, "Fixed: non-scalar keys and multi-line errors"): a mapping key that is not a scalar used to trap
// inside Yams.load, and errors quoted the user's text or the document's line raw. Both are findings now: the document
// is predicted from Yams.compose (never Yams.load), so a trap can only come from the code under test.
import Foundation
import FuzzSupport
import VolleyConfiguration
import VolleyServer
import Yams

private let defaults = VolleySettings()
private let knownKeys = Set(SettingsTable.all.map(\.key))
@_cdecl("LLVMFuzzerTestOneInput")
public func configurationFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size), as: UTF8.self)
    let expected = predict(text)

    var settings = defaults
    do {
        try SettingsFile.parse(yaml: text, into: &settings)
    } catch {
        checkOneLine(error.description, "SettingsError")
        switch expected {
        case .accepted:
            fuzzCheck(false, "parse threw \(error.description.debugDescription), the table accepts the document")
        case .invalidYAML:
            fuzzCheck(
                error.description.hasPrefix("not valid YAML: "),
                "parse threw \(error.description.debugDescription), Yams refuses the document")
        case .notAMapping:
            fuzzCheck(
                error.description.hasPrefix("expected a mapping"),
                "parse threw \(error.description.debugDescription) for a document that is not a mapping")
        case .unknownKey(let key):
            let named = "unknown key \(escapedQuote(key))"
            fuzzCheck(
                error.description.hasPrefix(named), "unknown key \(key.debugDescription) reported as \(error.description.debugDescription)")
            let rest = error.description.dropFirst(named.count)
            if !rest.isEmpty {
                let suggestion = rest.dropFirst(" (did you mean \"".count).dropLast(3)
                fuzzCheck(
                    rest.hasPrefix(" (did you mean \"") && rest.hasSuffix("\"?)") && knownKeys.contains(String(suggestion)),
                    "suggested unknown key in \(error.description.debugDescription)")
            }
        case .tooManyValues:
            fuzzCheck(
                error.description
                    == "the document holds more than \(SettingsFile.maximumValueCount) values (aliases counted each time they are used)",
                "a document of more than \(SettingsFile.maximumValueCount) values reported as \(error.description.debugDescription)")
        case .nonScalarKey(let kind):
            fuzzCheck(
                error.description.hasSuffix("a key must be a setting name, not a \(kind)"),
                "a key that is a \(kind) reported as \(error.description.debugDescription)")
        case .numberOutOfRange:
            fuzzCheck(
                error.description.contains("the number ") && error.description.hasSuffix(" is out of range"),
                "a base-60 integer beyond Int reported as \(error.description.debugDescription)")
        case .wrongKind(let key):
            fuzzCheck(
                error.description.hasPrefix("\(key): expected "), "wrong value for \(key) reported as \(error.description.debugDescription)"
            )
        case .rules:
            break
        case .reactorCountOutOfRange:
            fuzzCheck(
                error.description.hasPrefix("reactors: ") && error.description.hasSuffix(" is not a number from 1 to 256 or auto"),
                "a reactors value out of range reported as \(error.description.debugDescription)")
        }
        return 0
    }
    if case .rules = expected { return 0 }

    guard case .accepted(let given) = expected else {
        fuzzCheck(false, "parse accepted a document the table refuses (\(expected)): \(text.debugDescription)")
        return 0
    }
    // Exactly the given values, nothing else changed.
    for definition in SettingsTable.all {
        let value = definition.current(settings)
        if let wanted = given[definition.key] {
            var expectedValue = wanted
            if definition.key == SettingsTable.maximumRetransmitTimeout.key,
                case .integer(let ceiling) = wanted, case .integer(let first)? = given[SettingsTable.retransmitTimeout.key]
            {
                expectedValue = .integer(max(ceiling, first))
            }
            fuzzCheck(value == expectedValue, "\(definition.key): \(value) stored, the document says \(expectedValue)")
        } else if value != definition.current(defaults) {
            let raisedByRetransmit =
                definition.key == SettingsTable.maximumRetransmitTimeout.key && given[SettingsTable.retransmitTimeout.key] != nil
            fuzzCheck(raisedByRetransmit, "\(definition.key) changed to \(value), not in the document")
        }
    }
    // The same text again changes nothing.
    var again = settings
    do {
        try SettingsFile.parse(yaml: text, into: &again)
        fuzzCheck(again == settings, "parsing the same text twice gave different settings")
    } catch {
        fuzzCheck(false, "the same text threw the second time: \(error.description)")
    }

    // What `volley serve` does next with it.
    if let message = settings.server.validationError() { checkOneLine(message, "validationError") }
    do { _ = try settings.parsedLogLevel() } catch {
        checkOneLine(error.description, "parsedLogLevel")
        fuzzCheck(
            error.description.hasPrefix("log level \(escapedQuote(settings.logLevel)) is not one of "),
            "log level error \(error.description.debugDescription)")
    }
    do { _ = try settings.parsedLogFormat() } catch {
        checkOneLine(error.description, "parsedLogFormat")
        fuzzCheck(
            error.description.hasPrefix("log format \(escapedQuote(settings.logFormat)) is not one of "),
            "log format error \(error.description.debugDescription)")
    }
    return 0
}

private enum Prediction {
    /// Every key known and of the right kind: the values by key.
    case accepted([String: SettingValue])
    case invalidYAML
    case notAMapping
    case unknownKey(String)
    case wrongKind(String)
    /// More values than SettingsFile.maximumValueCount, aliases counted at each use.
    case tooManyValues
    /// A mapping key somewhere that is a "sequence" or a "mapping".
    case nonScalarKey(String)
    /// A YAML 1.1 base-60 integer (`1:30`) that Yams's trapping arithmetic cannot build.
    case numberOutOfRange
    /// A top-level `rules:` list (RulesFile): not predicted beyond "never traps, one-line errors".
    case rules
    /// A `reactors:` value that is neither `auto` (or empty) nor a number from 1 to 256.
    case reactorCountOutOfRange
}

/// Whether some plain scalar of the tree resolves to a YAML 1.1 base-60 integer (`1:30` is 90) that Yams cannot
/// build: it sums the parts from the last, multiplying the base by 60 after each (the last too), with trapping
/// arithmetic. Written apart from SettingsFile's own check, as the oracle for it.
private func yamsWouldTrapOnBaseSixty(_ node: Node) -> Bool {
    switch node {
    case .scalar(let scalar):
        guard scalar.style == .plain || scalar.style == .any, scalar.string.contains(":"),
            node.tag.rawValue == Tag.Name.int.rawValue
        else { return false }
        var text = scalar.string.replacingOccurrences(of: "_", with: "")
        if text.hasPrefix("-") || text.hasPrefix("+") { text.removeFirst() }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
        guard parts.count == text.split(separator: ":", omittingEmptySubsequences: false).count else { return false }
        var sum = 0
        var base = 1
        for part in parts.reversed() {
            let product = part.multipliedReportingOverflow(by: base)
            let total = sum.addingReportingOverflow(product.partialValue)
            let next = base.multipliedReportingOverflow(by: 60)
            if product.overflow || total.overflow || next.overflow { return true }
            sum = total.partialValue
            base = next.partialValue
        }
        return false
    case .alias:
        return false
    case .sequence(let sequence):
        return sequence.contains(where: yamsWouldTrapOnBaseSixty)
    case .mapping(let mapping):
        return mapping.contains { yamsWouldTrapOnBaseSixty($0.key) || yamsWouldTrapOnBaseSixty($0.value) }
    }
}

/// The kind of the first key found, in document order, that is not a scalar.
private func nonScalarKeyKind(_ node: Node) -> String? {
    switch node {
    case .scalar, .alias: return nil
    case .sequence(let sequence): return sequence.lazy.compactMap(nonScalarKeyKind).first
    case .mapping(let mapping):
        for (key, value) in mapping {
            switch key {
            case .mapping: return "mapping"
            case .sequence: return "sequence"
            case .alias: return "alias"
            case .scalar: break
            }
            if let kind = nonScalarKeyKind(value) { return kind }
        }
        return nil
    }
}

/// How many values the document holds as a tree (an alias counts its whole target again), counting stopped once
/// past `limit`.
private func valueCount(_ node: Node, limit: Int) -> Int {
    var count = 0
    func visit(_ node: Node) {
        guard count <= limit else { return }
        count += 1
        switch node {
        case .scalar, .alias: break
        case .sequence(let sequence): sequence.forEach(visit)
        case .mapping(let mapping):
            for (key, value) in mapping {
                visit(key)
                visit(value)
            }
        }
    }
    visit(node)
    return count
}

/// What the settings table says about the document as Yams reads it. Yams.load is never called: it traps on a
/// non-scalar key, and builds a document of nested aliases in exponential time.
private func predict(_ text: String) -> Prediction {
    let root: Node?
    do {
        root = try Yams.compose(yaml: text)
    } catch {
        return .invalidYAML
    }
    guard let root else { return .accepted([:]) }
    if valueCount(root, limit: SettingsFile.maximumValueCount) > SettingsFile.maximumValueCount { return .tooManyValues }
    if let kind = nonScalarKeyKind(root) { return .nonScalarKey(kind) }
    if yamsWouldTrapOnBaseSixty(root) { return .numberOutOfRange }
    guard let mapping = root.any as? [String: Any] else { return .notAMapping }
    if mapping["rules"] != nil { return .rules }
    var given: [String: SettingValue] = [:]
    for key in mapping.keys.sorted() {
        guard let definition = SettingsTable.definition(forKey: key) else { return .unknownKey(key) }
        switch (definition.kind, mapping[key]!) {
        case (.integer, let number as Int): given[key] = .integer(number)
        case (.boolean, let flag as Bool): given[key] = .boolean(flag)
        case (.text, let string as String): given[key] = .text(string)
        case (.text, let number as Int): given[key] = .text(String(number))
        case (.text, is NSNull): given[key] = .text("")
        default: return .wrongKind(key)
        }
        if key == SettingsTable.reactors.key, case .text(let text)? = given[key] {
            // The one text setting with a rule of its own: auto (also empty, any case) or 1...256, kept as the
            // number it is (`"007"` is 7).
            guard let normalised = reactorCount(text) else { return .reactorCountOutOfRange }
            given[key] = .text(normalised)
        }
    }
    return .accepted(given)
}

/// What `reactors:` with `text` stores, as the setting reports it back; nil for a value it refuses.
private func reactorCount(_ text: String) -> String? {
    let lowered = text.lowercased()
    if lowered.isEmpty || lowered == "auto" { return "auto" }
    guard let count = Int(lowered), (1...256).contains(count) else { return nil }
    return String(count)
}

/// User text as an error quotes it: in double quotes, `"` and `\` escaped, LF/CR/TAB/NUL as `\n` `\r` `\t` `\0`,
/// every other control, format or line/paragraph separator scalar as `\u{HEX}`.
private func escapedQuote(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\0": result += "\\0"
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

/// The scalars that break a line: LF, VT, FF, CR, NEL, LS, PS (Character.isNewline's set).
private let lineBreaks: Set<Unicode.Scalar> = ["\n", "\u{0B}", "\u{0C}", "\r", "\u{85}", "\u{2028}", "\u{2029}"]

/// Messages go to a terminal or the journal as one line, whatever the document holds.
private func checkOneLine(_ message: String, _ source: String) {
    fuzzCheck(!message.isEmpty, "\(source): empty message")
    fuzzCheck(
        !message.unicodeScalars.contains(where: lineBreaks.contains), "\(source): message with a line break: \(message.debugDescription)")
}
