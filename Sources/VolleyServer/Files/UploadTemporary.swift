import VolleySystem

/// The prefix of in-progress upload files: never served, never listed, and removed at
/// start when a crash left them (``StaleUploads``).
let uploadTemporaryPrefix = ".volley-upload-"

/// A temporary upload file beside its destination, renamed over the destination once complete.
///
/// Readers never see half a file, and a transfer that already opened the old file keeps
/// its old content. Unless ``commit(as:)`` succeeds, the temporary is removed on destruction.
/// Until then it is mode 0600 (and its name is refused to every reader), and this process
/// holds an exclusive `flock` on it, which tells a live upload from one a crash abandoned.
struct UploadTemporary: ~Copyable {
    /// The directory that holds both the temporary and the destination.
    private let directory: OwnedDescriptor
    /// The temporary's name inside `directory`.
    let name: String
    /// The temporary's descriptor, open for writing; nil once closed.
    private var file: OwnedDescriptor?
    /// The descriptor of ``file`` while it is open.
    private let fileDescriptor: Descriptor
    /// Set when the temporary has been renamed onto its destination.
    private var committed = false

    /// Creates a new, empty temporary in `directory` (`O_EXCL`, mode 0600), locked.
    init(in directory: consuming OwnedDescriptor) throws(SystemError) {
        var attempt = 0
        while true {
            let candidate = uploadTemporaryPrefix + String(UInt64.random(in: .min ... .max), radix: 16)
            do {
                let created = try FileSystem.createExclusive(in: directory.descriptor, name: candidate, mode: 0o600)
                // Nobody else can hold it yet (O_EXCL made it): the lock is only a sign of life.
                _ = try? FileSystem.tryLockExclusive(created.descriptor)
                fileDescriptor = created.descriptor
                file = consume created
                name = candidate
                break
            } catch  where error.errno == .fileExists && attempt < 8 {
                attempt += 1
            }
        }
        self.directory = directory
    }

    /// Appends all of `bytes` to the temporary.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        try FileSystem.writeAll(fileDescriptor, bytes)
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
    ///
    /// The file is closed (and its lock let go) only after the rename, so that a sweep of
    /// stale temporaries can never take a finished upload for an abandoned one.
    consuming func commit(as destination: String) throws(SystemError) {
        let written = file.take()!
        try FileSystem.setPermissions(written.descriptor, 0o644)
        try FileSystem.synchronize(written.descriptor)
        try FileSystem.rename(name, to: destination, in: directory.descriptor)
        committed = true
        // The data is on disk (fsync above): an error of close cannot lose it.
        try? written.close()
        // Durability of the rename; the new content is already in place if this fails.
        try? FileSystem.synchronize(directory.descriptor)
    }

    deinit {
        if !committed { try? FileSystem.unlink(name, in: directory.descriptor) }
    }
}
