import Glibc
import SystemPackage

/// Plain paths, for the command line's own files (a download, a cache directory): relative
/// paths start at the working directory, and nothing is confined below a root.
extension FileSystem {
    /// What the `…at` calls take for "relative to the working directory" (`AT_FDCWD`).
    static let workingDirectory = Descriptor(rawValue: AT_FDCWD)

    /// Creates `path` for writing, or empties it when it exists, close-on-exec; a new file
    /// gets `mode` less the umask (`0o666`: `0644` under the usual umask, as `touch` makes it).
    public static func create(_ path: String, mode: UInt32 = 0o666) throws(SystemError) -> OwnedDescriptor {
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        return OwnedDescriptor(adopting: try syscall("open") { Glibc.open(path, flags, mode_t(mode)) })
    }

    /// Renames `path` to `newPath`, replacing `newPath` atomically (both on one file system).
    public static func rename(_ path: String, to newPath: String) throws(SystemError) {
        try rename(path, to: newPath, in: workingDirectory)
    }

    /// Removes the file (not directory) at `path`.
    public static func unlink(_ path: String) throws(SystemError) {
        try unlink(path, in: workingDirectory)
    }

    /// Makes the directory `path` and any missing parent, each with `mode` less the umask, as
    /// `mkdir -p` does: fine when it already is a directory (or a symlink to one).
    /// - Throws: ``SystemError`` from `mkdirat`: `EEXIST` when `path` or a parent is something
    ///   other than a directory (`ENOTDIR` for a parent), `EACCES`, …
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o777) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty else { return try makeDirectory(path, in: workingDirectory, mode: mode) }
        for (index, component) in components.enumerated() {
            prefix += component
            do {
                try makeDirectory(prefix, in: workingDirectory, mode: mode)
            } catch  where error.errno == .fileExists {
                var status = stat()
                guard fstatat(AT_FDCWD, prefix, &status, 0) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                    throw index == components.count - 1 ? error : SystemError("mkdirat", errno: .notDirectory)
                }
            }
            prefix += "/"
        }
    }

    /// The working directory's absolute path.
    public static func currentDirectory() throws(SystemError) -> String {
        guard let path = getcwd(nil, 0) else { throw SystemError("getcwd", errno: Errno(rawValue: Glibc.errno)) }
        defer { free(path) }
        return String(cString: path)
    }
}

/// A file read from its current offset to its end in chunks, as an async sequence of bytes
/// (a request body, a copy): one `read` per chunk, never the whole file in memory. The file
/// is closed when the sequence and its iterators are gone. Reads block the calling thread
/// for as long as the disk takes.
public struct FileReadChunks: AsyncSequence, Sendable {
    /// The bytes of one `read`: up to the chunk size, never empty.
    public typealias Element = [UInt8]

    fileprivate final class File: Sendable {
        let owned: OwnedDescriptor
        init(_ owned: consuming OwnedDescriptor) { self.owned = owned }
    }

    private let file: File
    private let chunkSize: Int

    /// Reads `file` (opened for reading) in chunks of at most `chunkSize` bytes.
    public init(adopting file: consuming OwnedDescriptor, chunkSize: Int = 256 * 1024) {
        precondition(chunkSize > 0)
        self.file = File(file)
        self.chunkSize = chunkSize
    }

    /// The next chunk each time, nil at the end of the file; a failed read throws ``SystemError``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let file: File
        fileprivate let chunkSize: Int

        /// The next chunk, nil at the end of the file.
        public mutating func next() async throws -> [UInt8]? {
            let descriptor = file.owned.descriptor
            let chunk = try [UInt8](unsafeUninitializedCapacity: chunkSize) { buffer, count throws(SystemError) in
                count = try FileSystem.read(descriptor, into: UnsafeMutableRawBufferPointer(buffer))
            }
            return chunk.isEmpty ? nil : chunk
        }
    }

    /// An iterator from the file's current offset.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(file: file, chunkSize: chunkSize) }
}
