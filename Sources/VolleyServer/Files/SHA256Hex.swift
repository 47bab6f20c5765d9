import Synchronization
import VolleySystem

/// SHA-256 helpers for the file store: hashing descriptors and comparing hex digests.
enum SHA256Hex {
    /// Counts the files hashed in the current task, when a test sets it.
    @TaskLocal static var filesHashed: HashCounter?

    /// The lowercase hex SHA-256 of `bytes`.
    static func of(_ bytes: [UInt8]) -> String {
        SHA256Hasher.hex(of: bytes)
    }

    /// The lowercase hex SHA-256 of everything readable from `descriptor`, from its current offset.
    static func of(descriptor: Descriptor) throws(SystemError) -> String {
        filesHashed?.add(1)
        let hasher = SHA256Hasher()
        try hasher.update(readingToEndOf: descriptor)
        return hasher.finalizeHex()
    }

    /// Whether two hex digests are equal, ignoring letter case and surrounding whitespace.
    static func matches(_ lhs: String, _ rhs: String) -> Bool {
        canonical(lhs) == canonical(rhs)
    }

    /// `hex` trimmed and lowercased, for comparison.
    static func canonical(_ hex: String) -> String {
        String(hex.lowercased().filter { !$0.isWhitespace })
    }
}

/// The buffer size for copying files.
let copyBufferSize = 256 * 1024

/// A counter a test reads to check how often files were hashed.
final class HashCounter: Sendable {
    private let value = Mutex(0)
    func add(_ count: Int) { value.withLock { $0 += count } }
    var count: Int { value.withLock { $0 } }
}
