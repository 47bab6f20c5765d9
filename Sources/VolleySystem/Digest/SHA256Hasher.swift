internal import CEpoll

/// An incremental SHA-256, computed by the system's libcrypto (OpenSSL).
///
/// The file store checks uploads and answers checksum queries with it. libcrypto is already on
/// every Debian machine and uses the processor's SHA extensions; swift-crypto would compile a
/// second copy of BoringSSL into every build beside the one SwiftNIO's TLS brings.
public final class SHA256Hasher {
    /// The digest's length in bytes.
    public static let byteCount = 32

    private let context: OpaquePointer
    /// The digest, once ``finalize()`` has computed it.
    private var digest: [UInt8]?

    /// A hasher that has seen no bytes yet.
    public init() {
        // Both fail only when libcrypto cannot allocate, like any allocation in Swift.
        guard let context = EVP_MD_CTX_new() else { fatalError("libcrypto could not allocate a digest context") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            fatalError("libcrypto could not start a SHA-256 digest")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(digest == nil, "SHA256Hasher.update after finalize")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // EVP_DigestUpdate fails only on a context that was never initialised (ruled out above).
        _ = EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Adds `bytes` to the digest.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds everything readable from `descriptor`, from its current offset to its end.
    public func update(readingToEndOf descriptor: Descriptor) throws(SystemError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileSystem.read(descriptor, into: buffer)
            if count == 0 { break }
            update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// The digest of everything added, as 32 bytes. Nothing can be added after it; asked
    /// again, it gives the same digest.
    public func finalize() -> [UInt8] {
        if let digest { return digest }
        var result = [UInt8](repeating: 0, count: Self.byteCount)
        var length: UInt32 = 0
        _ = result.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        precondition(length == UInt32(Self.byteCount), "libcrypto returned a SHA-256 of \(length) bytes")
        digest = result
        return result
    }

    /// The digest of everything added, as 64 lowercase hex digits (see ``finalize()``).
    public func finalizeHex() -> String {
        Self.hex(finalize())
    }

    /// The SHA-256 of `bytes` as lowercase hex.
    public static func hex(of bytes: [UInt8]) -> String {
        let hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    /// `digest` as lowercase hex.
    static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

@available(*, unavailable)
extension SHA256Hasher: Sendable {}
