import Crypto
import Synchronization
import VolleySystem

/// SHA-256 helpers for the file store: hashing descriptors and comparing hex digests.
enum SHA256Hex {
    /// Counts the files hashed in the current task, when a test sets it.
    @TaskLocal static var filesHashed: HashCounter?

    /// The lowercase hex text of a finished digest.
    static func string(_ digest: SHA256.Digest) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(SHA256.byteCount * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The lowercase hex SHA-256 of `bytes`.
    static func of(_ bytes: [UInt8]) -> String {
        string(SHA256.hash(data: bytes))
    }

    /// The lowercase hex SHA-256 of everything readable from `descriptor`, from its current offset.
    static func of(descriptor: Int32) throws(SystemError) -> String {
        filesHashed?.add(1)
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileSystem.read(descriptor, into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        return string(hasher.finalize())
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

/// The buffer size for hashing and copying files.
let copyBufferSize = 256 * 1024

/// A counter a test reads to check how often files were hashed.
final class HashCounter: Sendable {
    private let value = Mutex(0)
    func add(_ count: Int) { value.withLock { $0 += count } }
    var count: Int { value.withLock { $0 } }
}
