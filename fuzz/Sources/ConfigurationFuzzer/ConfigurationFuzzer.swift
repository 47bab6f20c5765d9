// volley.yaml text through SettingsFile.parse(yaml:into:) (Yams, libyaml underneath), then the checks `volley serve`
// runs on the result. The input is the file's text (bytes decoded as UTF-8, as the file loader does).
// Checks: never traps; an error is a SettingsError whose description is one non-empty line, and it is the error the
// settings table predicts for the document as Yams reads it: not valid YAML, not a mapping, or the first key in
// sorted order that is unknown (the error names it, and a suggestion is a known key) or has a value of the wrong
// kind; a success changes only settings whose key is in the document (retransmit_timeout_ms may also raise
// max_retransmit_timeout_ms), stores exactly the values given, accepts no unknown key, and parsing the same text
// again changes nothing; validationError(), parsedLogLevel() and parsedLogFormat() never trap and report one line.
//
// Known issues in Sources/ (README.md, "Known issues"), tolerated and counted unless FUZZ_STRICT=1:
// - a mapping key that is not a scalar (`? [a, b]\n: 1`), anywhere in the document, traps inside Yams.load
//   (Constructor.swift force-unwraps String.construct of the key): such documents are skipped;
// - the unknown-key error and the log_level/log_format errors quote the user's text as is, so a key or value with
//   a line break gives a multi-line message: line breaks inside the quoted text are not counted;
// - a "not valid YAML" reader error quotes the offending line of the document raw: a CR LF line end survives the
//   message's split on "\n" (Swift's "\r\n" is one Character) and CR, VT, FF, NEL, LS, PS are kept: line breaks the
//   document itself holds are not counted there.
import Foundation
import FuzzSupport
import VolleyConfiguration
import VolleyServer
import Yams

private let defaults = VolleySettings()
private let knownKeys = Set(SettingsTable.all.map(\.key))
private let strict = getenv("FUZZ_STRICT").map { String(cString: $0) == "1" } ?? false
nonisolated(unsafe) private var skippedNonScalarKeys = 0
nonisolated(unsafe) private var echoedLineBreaks = 0

@_cdecl("LLVMFuzzerInitialize")
public func configurationFuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    atexit {
        guard skippedNonScalarKeys + echoedLineBreaks > 0 else { return }
        let line = "ConfigurationFuzzer: known issues tolerated: \(skippedNonScalarKeys) documents with a non-scalar mapping key "
            + "skipped (they trap in Yams.load), \(echoedLineBreaks) messages with a line break echoed from the document\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func configurationFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size), as: UTF8.self)
    if !strict, hasNonScalarKey(text) {
        skippedNonScalarKeys += 1
        return 0
    }
    let expected = predict(text)

    var settings = defaults
    do {
        try SettingsFile.parse(yaml: text, into: &settings)
    } catch {
        checkOneLine(error.description, "SettingsError", quoting: expected.unknownKey, document: text)
        switch expected {
        case .accepted:
            fuzzCheck(false, "parse threw \(error.description.debugDescription), the table accepts the document")
        case .invalidYAML:
            fuzzCheck(error.description.hasPrefix("not valid YAML: "), "parse threw \(error.description.debugDescription), Yams refuses the document")
        case .notAMapping:
            fuzzCheck(error.description.hasPrefix("expected a mapping"), "parse threw \(error.description.debugDescription) for a document that is not a mapping")
        case .unknownKey(let key):
            fuzzCheck(error.description.hasPrefix("unknown key \"\(key)\""), "unknown key \(key.debugDescription) reported as \(error.description.debugDescription)")
            if let range = error.description.range(of: " (did you mean \"") {
                let suggestion = error.description[range.upperBound...].dropLast(3)
                fuzzCheck(knownKeys.contains(String(suggestion)) && error.description.hasSuffix("\"?)"), "suggested unknown key in \(error.description.debugDescription)")
            }
        case .wrongKind(let key):
            fuzzCheck(error.description.hasPrefix("\(key): expected "), "wrong value for \(key) reported as \(error.description.debugDescription)")
        }
        return 0
    }

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
               case .integer(let ceiling) = wanted, case .integer(let first)? = given[SettingsTable.retransmitTimeout.key] {
                expectedValue = .integer(max(ceiling, first))
            }
            fuzzCheck(value == expectedValue, "\(definition.key): \(value) stored, the document says \(expectedValue)")
        } else if value != definition.current(defaults) {
            let raisedByRetransmit = definition.key == SettingsTable.maximumRetransmitTimeout.key && given[SettingsTable.retransmitTimeout.key] != nil
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
    do { _ = try settings.parsedLogLevel() } catch { checkOneLine(error.description, "parsedLogLevel", quoting: settings.logLevel) }
    do { _ = try settings.parsedLogFormat() } catch { checkOneLine(error.description, "parsedLogFormat", quoting: settings.logFormat) }
    return 0
}

private enum Prediction {
    /// Every key known and of the right kind: the values by key.
    case accepted([String: SettingValue])
    case invalidYAML
    case notAMapping
    case unknownKey(String)
    case wrongKind(String)

    var unknownKey: String? {
        if case .unknownKey(let key) = self { key } else { nil }
    }
}

/// Whether any mapping in the document has a key that is not a scalar (composed without constructing values).
private func hasNonScalarKey(_ text: String) -> Bool {
    guard let node = try? Yams.compose(yaml: text) else { return false }
    func walk(_ node: Node) -> Bool {
        switch node {
        case .scalar: return false
        case .sequence(let sequence): return sequence.contains(where: walk)
        case .mapping(let mapping):
            return mapping.contains { pair in
                if case .scalar = pair.key { walk(pair.value) } else { true }
            }
        case .alias: return false
        }
    }
    return walk(node)
}

/// What the settings table says about the document as Yams reads it.
private func predict(_ text: String) -> Prediction {
    let node: Any?
    do {
        node = try Yams.load(yaml: text)
    } catch {
        return .invalidYAML
    }
    guard let node else { return .accepted([:]) }
    guard let mapping = node as? [String: Any] else { return .notAMapping }
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
    }
    return .accepted(given)
}

/// The scalars that break a line: LF, VT, FF, CR, NEL, LS, PS (Character.isNewline's set).
private let lineBreaks: Set<Unicode.Scalar> = ["\n", "\u{0B}", "\u{0C}", "\r", "\u{85}", "\u{2028}", "\u{2029}"]

/// Messages go to a terminal or the journal as one line. `quoted`: user text the message quotes; `document`: the
/// YAML text, which a reader error quotes (both known issues, tolerated unless FUZZ_STRICT=1).
private func checkOneLine(_ message: String, _ source: String, quoting quoted: String? = nil, document: String? = nil) {
    fuzzCheck(!message.isEmpty, "\(source): empty message")
    guard message.unicodeScalars.contains(where: lineBreaks.contains) else { return }
    if !strict {
        var rest = message
        if let quoted, quoted.unicodeScalars.contains(where: lineBreaks.contains) {
            rest = rest.replacingOccurrences(of: "\"\(quoted)\"", with: "\"\"")
        }
        if let document, rest.hasPrefix("not valid YAML: ") {
            var scalars = String.UnicodeScalarView()
            let echoed = Set(document.unicodeScalars.filter(lineBreaks.contains))
            let crlf = document.contains("\r\n")
            var previous: Unicode.Scalar?
            for scalar in rest.unicodeScalars {
                // LF only as part of a CR LF the document holds; the message's own split removes lone LFs.
                let tolerated = scalar == "\n" ? crlf && previous == "\r" : echoed.contains(scalar)
                if !tolerated { scalars.append(scalar) }
                previous = scalar
            }
            rest = String(scalars)
        }
        if !rest.unicodeScalars.contains(where: lineBreaks.contains) {
            echoedLineBreaks += 1
            return
        }
    }
    fuzzCheck(false, "\(source): message with a line break: \(message.debugDescription)")
}
