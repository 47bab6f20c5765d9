internal import CEpoll
import Glibc
import SystemPackage

/// The file system calls Volley makes: confined opens below a directory descriptor,
/// status, positioned and vectored reads, and the few calls an atomic upload needs.
///
/// Paths below a root are always resolved with `openat2(RESOLVE_BENEATH)` or relative
/// to an already confined directory descriptor, never as plain paths.
public enum FileSystem {
    /// The resolve flags of every lookup below a root: stay beneath it, no `/proc` magic links.
    static let confinedResolve: UInt64 = VOLLEY_RESOLVE_BENEATH | VOLLEY_RESOLVE_NO_MAGICLINKS

    // MARK: - Opening

    /// Opens `path` (as plain path) for reading, close-on-exec.
    public static func open(_ path: String, options: OpenOptions = []) throws(SystemError) -> OwnedDescriptor {
        OwnedDescriptor(adopting: try syscall("open") { Glibc.open(path, options.flags) })
    }

    /// Opens `path` relative to `directory` with `openat2`, never resolving outside `directory`.
    ///
    /// `..`, absolute paths and symlinks that leave `directory` fail with `EXDEV`; symlinks
    /// that stay inside are followed unless `followSymlinks` is false.
    /// - Parameters:
    ///   - path: the path's bytes, without a NUL (the bytes a client sent, not lossily decoded text).
    ///   - options: how to open it (read-only, close-on-exec, and these).
    public static func openBeneath(
        _ directory: Descriptor, _ path: [UInt8], options: OpenOptions = [], followSymlinks: Bool = true
    ) throws(SystemError) -> OwnedDescriptor {
        guard !path.contains(0) else { throw SystemError("openat2", errno: .invalidArgument) }
        let resolve = confinedResolve | (followSymlinks ? 0 : VOLLEY_RESOLVE_NO_SYMLINKS)
        let number = try (path + [0]).withUnsafeBufferPointer { bytes throws(SystemError) in
            try bytes.withMemoryRebound(to: CChar.self) { name throws(SystemError) in
                var attempt = 1
                while true {
                    do throws(SystemError) {
                        return try syscall("openat2") {
                            volley_openat2(directory.rawValue, name.baseAddress!, UInt64(UInt32(bitPattern: options.flags)), 0, resolve)
                        }
                    } catch  where error.errno == .resourceTemporarilyUnavailable && attempt < beneathAttempts {
                        attempt += 1
                    }
                }
            }
        }
        return OwnedDescriptor(adopting: number)
    }

    /// How many times a confined open is tried while it fails with `EAGAIN`. With `RESOLVE_BENEATH` the kernel
    /// fails a lookup through `..` that way when a rename or mount anywhere on the system races it (it cannot prove
    /// the walk stayed beneath the directory); openat2(2) asks the caller to retry.
    public static let beneathAttempts = 32

    /// ``openBeneath(_:_:options:followSymlinks:)`` for a path given as text.
    public static func openBeneath(
        _ directory: Descriptor, _ path: String, options: OpenOptions = [], followSymlinks: Bool = true
    ) throws(SystemError) -> OwnedDescriptor {
        try openBeneath(directory, Array(path.utf8), options: options, followSymlinks: followSymlinks)
    }

    /// Creates `name` in `directory` exclusively (`O_EXCL|O_NOFOLLOW`) for writing.
    public static func createExclusive(in directory: Descriptor, name: String, mode: UInt32) throws(SystemError) -> OwnedDescriptor {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
        return OwnedDescriptor(adopting: try syscall("openat") { volley_openat(directory.rawValue, name, flags, mode_t(mode)) })
    }

    /// Sets or clears `O_NONBLOCK`.
    public static func setNonBlocking(_ descriptor: Descriptor, _ on: Bool) throws(SystemError) {
        let flags = try syscall("fcntl(F_GETFL)") { volley_fcntl_getfl(descriptor.rawValue) }
        _ = try syscall("fcntl(F_SETFL)") { volley_fcntl_setfl(descriptor.rawValue, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) }
    }

    // MARK: - Status

    /// The status of an open descriptor.
    public static func status(of descriptor: Descriptor) throws(SystemError) -> FileStatus {
        var status = stat()
        _ = try syscall("fstat") { fstat(descriptor.rawValue, &status) }
        return FileStatus(status)
    }

    /// The status of `name` in `directory`, not following a final symlink.
    public static func status(of name: String, in directory: Descriptor) throws(SystemError) -> FileStatus {
        var status = stat()
        _ = try syscall("fstatat") { fstatat(directory.rawValue, name, &status, AT_SYMLINK_NOFOLLOW) }
        return FileStatus(status)
    }

    // MARK: - Reading and writing

    /// Reads up to `buffer.count` bytes at the current offset; 0 at end of file.
    public static func read(_ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try syscall("read") { Glibc.read(descriptor.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at end of file.
    public static func read(
        _ descriptor: Descriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64
    ) throws(SystemError) -> Int {
        try syscall("pread") { pread(descriptor.rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Fills the first `count` buffers of `vectors` from `offset` on, with one `preadv` when
    /// the page cache has the data (looping on the rare short read). Returns false when the
    /// file ended first. The vectors are consumed (their bases and lengths advance).
    public static func readFully(
        _ descriptor: Descriptor, into vectors: IOVectors, count: Int, at offset: UInt64
    ) throws(SystemError) -> Bool {
        precondition(count <= vectors.capacity)
        let base = vectors.storage
        var first = 0
        var position = off_t(offset)
        while first < count, base[first].iov_len == 0 { first += 1 }
        while first < count {
            let got = try syscall("preadv") { preadv(descriptor.rawValue, base + first, Int32(min(count - first, 1024)), position) }
            if got == 0 { return false }
            position += off_t(got)
            var remaining = got
            while remaining > 0, first < count {
                let length = base[first].iov_len
                if remaining >= length {
                    remaining -= length
                    first += 1
                } else {
                    base[first].iov_base += remaining
                    base[first].iov_len -= remaining
                    remaining = 0
                }
            }
            while first < count, base[first].iov_len == 0 { first += 1 }
        }
        return true
    }

    /// Writes all of `bytes` at the current offset.
    public static func writeAll(_ descriptor: Descriptor, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let remaining = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            offset += try syscall("write") { Glibc.write(descriptor.rawValue, remaining.baseAddress, remaining.count) }
        }
    }

    /// Moves the offset back to the start.
    public static func rewind(_ descriptor: Descriptor) throws(SystemError) {
        _ = try syscall("lseek") { lseek(descriptor.rawValue, 0, SEEK_SET) }
    }

    // MARK: - Directories and names

    /// The names and kinds of `directory`'s entries, without `.` and `..` or names that are not UTF-8.
    /// Kinds the file system does not report are `nil` (ask ``status(of:in:)``).
    public static func entries(of directory: Descriptor) throws(SystemError) -> [(name: String, kind: FileStatus.Kind?)] {
        var entries: [(name: String, kind: FileStatus.Kind?)] = []
        try forEachEntry(of: directory) { name, kind in
            entries.append((name, kind))
            return true
        }
        return entries
    }

    /// Calls `body` with the name and kind of each of `directory`'s entries, in the order the
    /// file system keeps them, until it returns false: a look at part of a large directory
    /// without reading all of it. Skips what ``entries(of:)`` skips; kinds are as there.
    public static func forEachEntry(
        of directory: Descriptor, _ body: (_ name: String, _ kind: FileStatus.Kind?) -> Bool
    ) throws(SystemError) {
        let copy = try syscall("dup") { dup(directory.rawValue) }
        guard let stream = fdopendir(copy) else {
            let code = Errno(rawValue: Glibc.errno)
            _ = OwnedDescriptor(adopting: copy)
            throw SystemError("fdopendir", errno: code)
        }
        defer { closedir(stream) }
        // The copy shares its offset with `directory`: start from the top whatever an earlier listing read.
        rewinddir(stream)
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw SystemError("readdir", errno: Errno(rawValue: Glibc.errno)) }
                return
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(validatingCString: $0)
                }
            }
            guard let name, name != ".", name != ".." else { continue }
            let kind: FileStatus.Kind? =
                switch Int32(entry.pointee.d_type) {
                case Int32(DT_REG): .regular
                case Int32(DT_DIR): .directory
                case Int32(DT_LNK): .symbolicLink
                case Int32(DT_UNKNOWN): nil
                default: .other
                }
            guard body(name, kind) else { return }
        }
    }

    /// Makes directory `name` in `directory`.
    public static func makeDirectory(_ name: String, in directory: Descriptor, mode: UInt32) throws(SystemError) {
        _ = try syscall("mkdirat") { mkdirat(directory.rawValue, name, mode_t(mode)) }
    }

    /// Removes the file (not directory) `name` from `directory`.
    public static func unlink(_ name: String, in directory: Descriptor) throws(SystemError) {
        _ = try syscall("unlinkat") { unlinkat(directory.rawValue, name, 0) }
    }

    /// Takes an exclusive `flock` on the open file `descriptor` without waiting: false when
    /// another open file description holds a lock on it. The lock goes with the last
    /// descriptor of this open file, so also when its process dies.
    public static func tryLockExclusive(_ descriptor: Descriptor) throws(SystemError) -> Bool {
        do {
            _ = try syscall("flock") { flock(descriptor.rawValue, LOCK_EX | LOCK_NB) }
            return true
        } catch  where error.errno == .wouldBlock {
            return false
        }
    }

    /// Removes the empty directory `name` from `directory` (`ENOTEMPTY` when it holds anything).
    public static func removeDirectory(_ name: String, in directory: Descriptor) throws(SystemError) {
        _ = try syscall("unlinkat(AT_REMOVEDIR)") { unlinkat(directory.rawValue, name, AT_REMOVEDIR) }
    }

    /// Renames `name` to `newName` inside `directory`, replacing `newName` atomically.
    public static func rename(_ name: String, to newName: String, in directory: Descriptor) throws(SystemError) {
        _ = try syscall("renameat") { renameat(directory.rawValue, name, directory.rawValue, newName) }
    }

    /// Flushes a file's (or directory's) data and metadata to disk.
    public static func synchronize(_ descriptor: Descriptor) throws(SystemError) {
        _ = try syscall("fsync") { fsync(descriptor.rawValue) }
    }

    /// Sets the permission bits, whatever the umask.
    public static func setPermissions(_ descriptor: Descriptor, _ mode: UInt32) throws(SystemError) {
        _ = try syscall("fchmod") { fchmod(descriptor.rawValue, mode_t(mode)) }
    }
}
