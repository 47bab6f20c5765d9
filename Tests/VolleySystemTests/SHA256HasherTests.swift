import Foundation
import Glibc
import Testing
import VolleySystem

/// SHA-256 through libcrypto: the FIPS 180-2 test vectors, fed whole and in pieces.
@Suite struct SHA256HasherTests {
    @Test func emptyInput() {
        #expect(SHA256Hasher.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func abc() {
        #expect(SHA256Hasher.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlockMessage() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256Hasher.hex(of: message) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// A million "a" in uneven pieces: the digest does not depend on how the bytes arrive.
    @Test func millionAsInPieces() {
        let hasher = SHA256Hasher()
        var remaining = 1_000_000
        var piece = 1
        while remaining > 0 {
            let count = min(piece, remaining)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: count))
            remaining -= count
            piece = piece * 3 % 65_537 + 1
        }
        hasher.update(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func rawDigestIsThirtyTwoBytes() {
        let hasher = SHA256Hasher()
        hasher.update(Array("abc".utf8))
        let digest = hasher.finalize()
        #expect(digest.count == SHA256Hasher.byteCount)
        #expect(digest.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
        #expect(hasher.finalize() == digest, "asked again, the same digest")
    }

    @Test func fileReadToItsEnd() throws {
        let path = "/tmp/volley-sha256-\(getpid())"
        let content = [UInt8]((0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        defer { unlink(path) }
        let file = try FileSystem.open(path)
        let hasher = SHA256Hasher()
        try hasher.update(readingToEndOf: file.descriptor)
        #expect(hasher.finalizeHex() == SHA256Hasher.hex(of: content))
    }
}
