/// A file name from a client or API caller, reduced to a path relative to the served root.
///
/// Works on the name's bytes, exactly as the client sent them: a name that is not valid
/// UTF-8 still opens the file with those bytes. TFTP clients are odd: a leading `/` means
/// "in the root" (as with tftpd-hpa `-s`), and Windows-style PXE names use `\` as separator.
/// Names that can only mean an escape attempt (`..` in any position) or that are malformed
/// are refused here, before any system call; everything else is left to `openat2` with
/// `RESOLVE_BENEATH`.
struct RelativePath: Hashable, Sendable, CustomStringConvertible {
    /// The non-empty components, none of them empty, `.` or `..`.
    let components: [[UInt8]]

    private static let slash = UInt8(ascii: "/")
    private static let backslash = UInt8(ascii: "\\")
    private static let dot = UInt8(ascii: ".")

    /// Parses `raw`; fails with an `invalidName` error for empty names, NUL, `..` or a trailing separator.
    static func parse(_ raw: [UInt8]) -> Result<RelativePath, FileAccessError> {
        let quoted = String(decoding: raw, as: UTF8.self).debugDescription
        if raw.contains(0) {
            return .failure(FileAccessError(.invalidName, logDetail: "name contains NUL: \(quoted)"))
        }
        let slashed = raw.map { $0 == backslash ? slash : $0 }
        if slashed.last == slash {
            return .failure(FileAccessError(.invalidName, logDetail: "name ends with a separator: \(quoted)"))
        }
        var components: [[UInt8]] = []
        for part in slashed.split(separator: slash, omittingEmptySubsequences: true) {
            if part.elementsEqual([dot, dot]) {
                return .failure(FileAccessError(.invalidName, logDetail: "name contains '..': \(quoted)"))
            }
            if !part.elementsEqual([dot]) { components.append(Array(part)) }
        }
        if components.isEmpty {
            return .failure(FileAccessError(.invalidName, logDetail: "empty name: \(quoted)"))
        }
        return .success(RelativePath(components: components))
    }

    /// Parses a name given as text (API callers).
    static func parse(_ raw: String) -> Result<RelativePath, FileAccessError> {
        parse(Array(raw.utf8))
    }

    /// The bytes handed to `openat2`: components joined by `/`, never starting with `/`.
    var bytes: [UInt8] { Array(components.joined(separator: [Self.slash])) }

    /// The path as text, for logs and API results (invalid UTF-8 replaced).
    var description: String { String(decoding: bytes, as: UTF8.self) }

    /// The last component: the file's own name inside its directory.
    var leaf: String { String(decoding: components[components.count - 1], as: UTF8.self) }

    /// The directory components leading to the leaf (empty for a file directly in the root).
    var directories: [String] { components.dropLast().map { String(decoding: $0, as: UTF8.self) } }
}
