/// A file-name pattern of a rule: a glob (`boot/*`, `*.efi`, `pxelinux.cfg/??-*`) or, written
/// `regex:…`, a regular expression matched against the whole name.
///
/// In a glob, `*` and `?` do not cross `/`; `**` does.
public struct NamePattern: @unchecked Sendable, CustomStringConvertible {
    // Regex is immutable once built; matching does not mutate it.
    private let regex: Regex<AnyRegexOutput>
    public let description: String

    /// - Throws: a message naming the pattern when it is not a valid regex.
    public init(_ text: String) throws(RuleError) {
        description = text
        let source = text.hasPrefix("regex:") ? String(text.dropFirst("regex:".count)) : Self.regexSource(ofGlob: text)
        do {
            regex = try Regex(source)
        } catch {
            throw RuleError("name pattern \(text.debugDescription) is not a valid regular expression: \(error)")
        }
    }

    /// Whether the whole `name` matches.
    public func matches(_ name: String) -> Bool {
        (try? regex.wholeMatch(in: name)) != nil
    }

    private static func regexSource(ofGlob glob: String) -> String {
        var source = ""
        var characters = Array(glob)[...]
        while let character = characters.popFirst() {
            switch character {
            case "*":
                if characters.first == "*" {
                    characters.removeFirst()
                    source += ".*"
                } else {
                    source += "[^/]*"
                }
            case "?": source += "[^/]"
            default:
                source += character.isLetter || character.isNumber ? String(character) : "\\" + String(character)
            }
        }
        return source
    }
}

/// A rule that cannot work, in one line.
public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
