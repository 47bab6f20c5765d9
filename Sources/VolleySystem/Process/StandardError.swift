import Glibc

/// Standard error, written unbuffered: a log line is out before the next statement runs, so
/// none is lost when the process is stopped right after it.
public enum StandardError {
    /// Writes all of `bytes` (retrying on `EINTR` and short writes); a closed or broken
    /// standard error drops the rest silently, as there is nowhere left to report it.
    public static func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// Writes `text` as UTF-8, as ``write(_:)-([UInt8])`` does.
    public static func write(_ text: String) {
        write(Array(text.utf8))
    }

    /// Whether standard error is a terminal (where progress bars may be drawn).
    public static var isTerminal: Bool { isatty(2) == 1 }
}
