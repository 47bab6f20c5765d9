import Glibc

extension FileSystem {
    /// The whole content of a small file (a `/proc` table, a token) as text, read with
    /// `read` until the end: `/proc` files report size 0, so the size is not asked.
    /// - Parameter limit: at most this many bytes are read.
    public static func readSmallFile(_ path: String, limit: Int = 1 << 20) throws(SystemError) -> String {
        String(decoding: try readSmallFileBytes(path, limit: limit), as: UTF8.self)
    }

    /// The first `limit` bytes of a small file (all of it when it is shorter), read as
    /// ``readSmallFile(_:limit:)`` does. A directory fails with `EISDIR`.
    public static func readSmallFileBytes(_ path: String, limit: Int = 1 << 20) throws(SystemError) -> [UInt8] {
        let file = try open(path)
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 1)
        defer { buffer.deallocate() }
        while bytes.count < limit {
            let count = try read(file.descriptor, into: buffer)
            if count == 0 { break }
            bytes += buffer.prefix(count)
        }
        return Array(bytes.prefix(limit))
    }
}

extension FileSystem {
    /// Whether `path` is a directory (following symlinks); false when it cannot be reached.
    public static func isDirectory(_ path: String) -> Bool {
        (try? open(path, options: .directory)) != nil
    }
}
