import OpenAPIRuntime
import VolleyServer

/// A file's content as an HTTP body, read in chunks as the client takes them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    static let chunkBytes = 256 * 1024

    let reader: StoredFileReader

    struct AsyncIterator: AsyncIteratorProtocol {
        let reader: StoredFileReader
        var offset: UInt64 = 0

        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard offset < reader.info.size else { return nil }
            let count = Int(Swift.min(UInt64(FileChunks.chunkBytes), reader.info.size - offset))
            let bytes = try reader.read(upTo: count, at: offset)
            // A file truncated in place since it was opened: end here rather than spin.
            guard !bytes.isEmpty else { throw TFTPError.io("\(reader.info.path) shrank while being read") }
            offset += UInt64(bytes.count)
            return bytes[...]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }

    /// The body, with its length.
    var body: HTTPBody {
        HTTPBody(self, length: .known(Int64(reader.info.size)), iterationBehavior: .single)
    }
}
