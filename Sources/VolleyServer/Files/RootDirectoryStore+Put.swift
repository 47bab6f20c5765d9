import Crypto
import Glibc
import VolleyReactor

extension RootDirectoryStore {
    /// Stores `bytes` as `name` below the root, unless the root already holds the same content.
    @discardableResult
    public func putFile(_ name: String, bytes: [UInt8]) throws(TFTPError) -> PutFileResult {
        let upload = try Upload(store: self, name: name)
        defer { upload.root.close() }
        if try upload.existingDigest() == SHA256Hex.of(bytes) { return .unchanged }
        let temporary = try upload.makeTemporary()
        do {
            try temporary.write(bytes)
        } catch {
            throw .io(error, name: name)
        }
        try upload.commit(temporary)
        return .written
    }

    /// Copies the local file `localFile` to `name` below the root, unless the root already
    /// holds a file with the same SHA-256.
    @discardableResult
    public func putFile(_ name: String, contentsOf localFile: String) throws(TFTPError) -> PutFileResult {
        let upload = try Upload(store: self, name: name)
        defer { upload.root.close() }
        let source: Int32
        do {
            source = try syscall("open") { open(localFile, O_RDONLY | O_CLOEXEC) }
        } catch where error.errno == ENOENT {
            throw .fileNotFound(localFile)
        } catch {
            throw .io(error, name: localFile)
        }
        defer { closeDescriptor(source) }
        if let existing = try upload.existingDigest() {
            do {
                guard try SHA256Hex.of(descriptor: source) != existing else { return .unchanged }
                _ = try syscall("lseek") { lseek(source, 0, SEEK_SET) }
            } catch {
                throw .io(error, name: localFile)
            }
        }
        let temporary = try upload.makeTemporary()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let count = try syscall("read") { read(source, buffer.baseAddress, buffer.count) }
                if count == 0 { break }
                try temporary.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        } catch {
            throw .io(error, name: name)
        }
        try upload.commit(temporary)
        return .written
    }

    /// Streams `chunks` into `name` below the root.
    ///
    /// With `expected` equal to the stored file's SHA-256 nothing is written and the stream is
    /// not consumed; otherwise the content is written and, when `expected` is given, verified:
    /// on a mismatch the old file stays and ``TFTPError/checksumMismatch(_:)`` is thrown.
    @discardableResult
    public func putFile<S: AsyncSequence>(
        _ name: String,
        from chunks: S,
        sha256 expected: String? = nil
    ) async throws(TFTPError) -> PutFileResult where S.Element == [UInt8] {
        let upload = try Upload(store: self, name: name)
        defer { upload.root.close() }
        if let expected, let existing = try upload.existingDigest(), SHA256Hex.matches(existing, expected) {
            return .unchanged
        }
        let temporary = try upload.makeTemporary()
        var hasher = SHA256()
        var iterator = chunks.makeAsyncIterator()
        while true {
            let chunk: [UInt8]?
            do {
                chunk = try await iterator.next(isolation: #isolation)
            } catch {
                throw .io("reading the upload stream for \(name.debugDescription): \(error)")
            }
            guard let chunk else { break }
            do {
                try temporary.write(chunk)
            } catch {
                throw .io(error, name: name)
            }
            hasher.update(data: chunk)
        }
        if let expected, !SHA256Hex.matches(SHA256Hex.string(hasher.finalize()), expected) {
            throw .checksumMismatch(name)
        }
        try upload.commit(temporary)
        return .written
    }
}

/// One upload in progress: the parsed destination and the open root.
private struct Upload {
    /// The destination name as the caller gave it (for errors).
    let name: String
    /// The destination below the root.
    let path: RelativePath
    /// The opened root; closed by the caller.
    let root: ConfinedRoot
    /// Parses `name` (hostile names throw ``TFTPError/accessViolation(_:)``), opens the root and
    /// checks that the destination, if it exists, is a regular file beneath the root.
    init(store: RootDirectoryStore, name: String) throws(TFTPError) {
        self.name = name
        path = try RelativePath.forStore(name)
        if path.leaf.hasPrefix(uploadTemporaryPrefix) { throw .accessViolation(name) }
        root = try ConfinedRoot.forStore(store.rootDirectory)
        do {
            try checkDestination()
        } catch {
            root.close()
            throw error
        }
    }

    /// Refuses a destination that resolves outside the root (e.g. a symlink out) or is not a regular file.
    private func checkDestination() throws(TFTPError) {
        let fd: Int32
        do {
            fd = try openBeneath(root.descriptor, path.description, flags: volleyOPath)
        } catch where error.errno == ENOENT || error.errno == ENOTDIR {
            return
        } catch {
            throw .lookup(error, name: name)
        }
        defer { closeDescriptor(fd) }
        let status: stat
        do {
            status = try fileStatus(fd)
        } catch {
            throw .io(error, name: name)
        }
        guard isRegularFile(status) else {
            throw .io("\(name.debugDescription) exists and is not a regular file")
        }
    }

    /// The SHA-256 of the current file at the destination, nil when there is none.
    func existingDigest() throws(TFTPError) -> String? {
        try root.existingDigest(of: name)
    }

    /// Creates the destination's directories as needed and a fresh temporary beside it.
    func makeTemporary() throws(TFTPError) -> UploadTemporary {
        let directory: Int32
        do {
            directory = try root.openParentDirectory(of: path, create: true)
        } catch {
            switch error.errno {
            case EXDEV, ELOOP, EACCES, EPERM: throw .accessViolation(name)
            default: throw .io(error, name: name)
            }
        }
        do {
            return try UploadTemporary(in: directory)
        } catch {
            closeDescriptor(directory)
            throw .io(error, name: name)
        }
    }

    /// Renames the finished temporary onto the destination.
    func commit(_ temporary: consuming UploadTemporary) throws(TFTPError) {
        do {
            try temporary.commit(as: path.leaf)
        } catch {
            throw .io(error, name: name)
        }
    }
}
