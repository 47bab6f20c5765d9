/// The part of a file a `Range` header asks for (RFC 9110 §14): a single byte range is
/// honoured; several get the whole file, as the RFC allows.
enum ByteRange: Equatable {
    /// No range, or one we answer with the whole file (several ranges, another unit, a malformed one).
    case whole
    /// Bytes `lower...upper` of the file.
    case part(lower: UInt64, upper: UInt64)
    /// A valid single range that starts at or past the end: 416.
    case unsatisfiable

    /// The range `header` asks of a file of `size` bytes.
    static func parse(_ header: String?, size: UInt64) -> ByteRange {
        guard let header else { return .whole }
        let trimmed = header.trimmingWhitespace
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst(6).trimmingWhitespace
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingWhitespace
        let last = spec[spec.index(after: dash)...].trimmingWhitespace
        if first.isEmpty {
            // A suffix: the last N bytes.
            guard let count = UInt64(last) else { return .whole }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .part(lower: size - min(count, size), upper: size - 1)
        }
        guard let lower = UInt64(first) else { return .whole }
        var upper = size &- 1
        if !last.isEmpty {
            guard let asked = UInt64(last), asked >= lower else { return .whole }
            upper = min(asked, size &- 1)
        }
        guard lower < size else { return .unsatisfiable }
        return .part(lower: lower, upper: upper)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
