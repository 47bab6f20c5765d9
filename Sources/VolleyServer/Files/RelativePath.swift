/// A file name from a client or API caller, reduced to a path relative to the served root.
///
/// TFTP clients are odd: a leading `/` means "in the root" (as with tftpd-hpa `-s`), and
/// Windows-style PXE names use `\` as separator. Names that can only mean an escape
/// attempt (`..` in any position) or that are malformed are refused here, before any
/// system call; everything else is left to `openat2` with `RESOLVE_BENEATH`.
struct RelativePath: Hashable, Sendable, CustomStringConvertible {
    /// The non-empty components, none of them empty, `.` or `..`.
    let components: [String]

    /// Parses `raw`; fails with an `invalidName` error for empty names, NUL, `..` or a trailing separator.
    static func parse(_ raw: String) -> Result<RelativePath, FileAccessError> {
        let quoted = raw.debugDescription
        if raw.utf8.contains(0) {
            return .failure(FileAccessError(.invalidName, logDetail: "name contains NUL: \(quoted)"))
        }
        let slashed = raw.replacing("\\", with: "/")
        if slashed.hasSuffix("/") {
            return .failure(FileAccessError(.invalidName, logDetail: "name ends with a separator: \(quoted)"))
        }
        var components: [String] = []
        for part in slashed.split(separator: "/", omittingEmptySubsequences: true) {
            if part == ".." {
                return .failure(FileAccessError(.invalidName, logDetail: "name contains '..': \(quoted)"))
            }
            if part != "." { components.append(String(part)) }
        }
        if components.isEmpty {
            return .failure(FileAccessError(.invalidName, logDetail: "empty name: \(quoted)"))
        }
        return .success(RelativePath(components: components))
    }

    /// The path as handed to `openat2`: components joined by `/`, never starting with `/`.
    var description: String { components.joined(separator: "/") }

    /// The last component: the file's own name inside its directory.
    var leaf: String { components[components.count - 1] }

    /// The directory components leading to the leaf (empty for a file directly in the root).
    var directories: ArraySlice<String> { components.dropLast() }
}
