import Glibc

/// The local copy of the served file, mapped once; DATA payloads are compared against it in place.
final class ReferenceFile {
    /// The file's size in bytes.
    let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only; throws a readable message when it cannot.
    init(path: String) throws(LoadGenFailure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LoadGenFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw LoadGenFailure("\(path) is not a regular file")
        }
        size = Int(info.st_size)
        guard size > 0 else {
            base = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw LoadGenFailure("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// True when `bytes` equal the file's bytes at `offset` (and fit inside the file).
    @inline(__always)
    func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, offset + bytes.count <= size else { return false }
        guard bytes.count > 0, let base, let start = bytes.baseAddress else { return true }
        return memcmp(start, base + offset, bytes.count) == 0
    }
}

/// A setup problem reported to the user (not a client failure).
struct LoadGenFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
