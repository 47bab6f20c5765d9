import VolleySystem

/// Passes an upload's chunks through, counting and hashing them, and stops the stream once
/// it exceeds the size limit (the store then discards its temporary file).
struct UploadMeter<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == [UInt8] {
    typealias Element = [UInt8]

    /// What went through, read after the upload.
    final class Tally: @unchecked Sendable {
        // Touched only by the one task that iterates the upload, then read after it.
        fileprivate(set) var bytes = 0
        fileprivate(set) var exceededLimit = false
        fileprivate let hasher = SHA256Hasher()
        /// The SHA-256 of what went through, as lowercase hex; read it after the upload.
        var sha256: String { hasher.finalizeHex() }
    }

    /// Thrown into the store when the upload is larger than allowed.
    struct TooLarge: Error {}

    let base: Base
    let limit: Int
    let tally: Tally

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let limit: Int
        let tally: Tally

        mutating func next() async throws -> [UInt8]? {
            guard let chunk = try await base.next() else { return nil }
            tally.bytes += chunk.count
            if tally.bytes > limit {
                tally.exceededLimit = true
                throw TooLarge()
            }
            tally.hasher.update(chunk)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), limit: limit, tally: tally)
    }
}
