import Glibc
import VolleyReactor

/// The prefix of in-progress upload files; ``RootDirectoryStore/listFiles()`` skips them.
let uploadTemporaryPrefix = ".volley-upload-"

/// A temporary upload file beside its destination, renamed over the destination once complete.
///
/// Readers never see half a file, and a transfer that already opened the old file keeps
/// its old content. Unless ``commit(as:)`` succeeds, the temporary is removed on destruction.
struct UploadTemporary: ~Copyable {
    /// The directory that holds both the temporary and the destination (owned, closed on destruction).
    private let directory: Int32
    /// The temporary's name inside `directory`.
    let name: String
    /// The temporary's descriptor, open for writing; -1 once closed.
    private var descriptor: Int32
    /// Set when the temporary has been renamed onto its destination.
    private var committed = false

    /// Creates a new, empty temporary in `directory` (`O_EXCL`, mode 0644), taking ownership
    /// of `directory` only when this succeeds.
    init(in directory: Int32) throws(SystemError) {
        self.directory = directory
        var attempt = 0
        while true {
            let candidate = uploadTemporaryPrefix + String(UInt64.random(in: .min ... .max), radix: 16)
            do {
                let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
                let fd = try syscall("openat") { openat(directory, candidate, flags, 0o644) }
                name = candidate
                descriptor = fd
                break
            } catch where error.errno == EEXIST && attempt < 8 {
                attempt += 1
            }
        }
    }

    /// Appends all of `bytes` to the temporary.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let remaining = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            offset += try syscall("write") { Glibc.write(descriptor, remaining.baseAddress, remaining.count) }
        }
    }

    /// Appends all of `bytes` to the temporary.
    func write(_ bytes: [UInt8]) throws(SystemError) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemError) in try write(buffer) }
        }
        try result.get()
    }

    /// Sets mode 0644 whatever the umask, flushes the data to disk and renames the temporary
    /// onto `destination` in the same directory, then flushes the directory.
    consuming func commit(as destination: String) throws(SystemError) {
        let fd = descriptor
        _ = try syscall("fchmod") { fchmod(fd, 0o644) }
        _ = try syscall("fsync") { fsync(fd) }
        descriptor = -1
        closeDescriptor(fd)
        let directory = directory
        let name = name
        _ = try syscall("renameat") { renameat(directory, name, directory, destination) }
        committed = true
        // Durability of the rename; the new content is already in place if this fails.
        _ = try? syscall("fsync") { fsync(directory) }
    }

    deinit {
        if descriptor >= 0 { closeDescriptor(descriptor) }
        if !committed { _ = unlinkat(directory, name, 0) }
        closeDescriptor(directory)
    }
}
