import VolleySystem

extension RootDirectoryStore {
    /// Stores `bytes` as `name` below the root, unless the root already holds the same content.
    @discardableResult
    public func putFile(_ name: String, bytes: [UInt8]) throws(TFTPError) -> PutFileResult {
        try storeFile(name, bytes: bytes).result
    }

    /// Copies the local file `localFile` to `name` below the root, unless the root already
    /// holds a file with the same SHA-256.
    @discardableResult
    public func putFile(_ name: String, contentsOf localFile: String) throws(TFTPError) -> PutFileResult {
        try storeFile(name, contentsOf: localFile).result
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
        try await storeFile(name, from: chunks, sha256: expected).result
    }

    /// ``putFile(_:bytes:)``, also telling whether the file is new.
    func storeFile(_ name: String, bytes: [UInt8]) throws(TFTPError) -> StoredFile {
        var upload = try Upload(store: self, name: name)
        if try upload.existingDigest() == SHA256Hex.of(bytes) { return StoredFile(.unchanged, upload) }
        let temporary = try upload.makeTemporary()
        do {
            try temporary.write(bytes)
        } catch {
            throw .io(error, name: name)
        }
        try upload.commit(temporary)
        return StoredFile(.written, upload)
    }

    /// ``putFile(_:contentsOf:)``, also telling whether the file is new.
    func storeFile(_ name: String, contentsOf localFile: String) throws(TFTPError) -> StoredFile {
        var upload = try Upload(store: self, name: name)
        let sourceFile: OwnedDescriptor
        do {
            sourceFile = try FileSystem.open(localFile)
        } catch  where error.errno == .noSuchFileOrDirectory {
            throw .fileNotFound(localFile)
        } catch {
            throw .io(error, name: localFile)
        }
        let source = sourceFile.descriptor
        if let existing = try upload.existingDigest() {
            do {
                guard try SHA256Hex.of(descriptor: source) != existing else { return StoredFile(.unchanged, upload) }
                try FileSystem.rewind(source)
            } catch {
                throw .io(error, name: localFile)
            }
        }
        let temporary = try upload.makeTemporary()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let count = try FileSystem.read(source, into: buffer)
                if count == 0 { break }
                try temporary.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        } catch {
            throw .io(error, name: name)
        }
        try upload.commit(temporary)
        return StoredFile(.written, upload)
    }

    /// ``putFile(_:from:sha256:)``, also telling whether the file is new.
    func storeFile<S: AsyncSequence>(
        _ name: String,
        from chunks: S,
        sha256 expected: String? = nil
    ) async throws(TFTPError) -> StoredFile where S.Element == [UInt8] {
        var upload = try Upload(store: self, name: name)
        if let expected, let existing = try upload.existingDigest(), SHA256Hex.matches(existing, expected) {
            return StoredFile(.unchanged, upload)
        }
        let temporary = try upload.makeTemporary()
        let hasher = SHA256Hasher()
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
            hasher.update(chunk)
        }
        if let expected, !SHA256Hex.matches(hasher.finalizeHex(), expected) {
            throw .checksumMismatch(name)
        }
        try upload.commit(temporary)
        return StoredFile(.written, upload)
    }
}

/// What a put did: whether the destination was new (nothing was there before), and the
/// directories made on the way to it.
struct StoredFile: Equatable {
    let result: PutFileResult
    let created: Bool
    let madeDirectories: [String]

    fileprivate init(_ result: PutFileResult, _ upload: borrowing Upload) {
        self.result = result
        self.created = result == .written && !upload.destinationExisted
        self.madeDirectories = upload.madeDirectories
    }
}

/// One upload in progress: the parsed destination and the open root.
private struct Upload {
    /// The destination name as the caller gave it (for errors).
    let name: String
    /// The destination below the root.
    let path: RelativePath
    /// The opened root.
    let root: ConfinedRoot
    /// Whether a file was at the destination when the upload began.
    private(set) var destinationExisted = false
    /// The directories made for the destination (root-relative, parents first).
    private(set) var madeDirectories: [String] = []
    /// Parses `name` (hostile names throw ``TFTPError/accessViolation(_:)``), opens the root and
    /// checks that the destination, if it exists, is a regular file beneath the root.
    init(store: RootDirectoryStore, name: String) throws(TFTPError) {
        self.name = name
        path = try RelativePath.forStore(name)
        if path.leaf.hasPrefix(uploadTemporaryPrefix) { throw .accessViolation(name) }
        root = try ConfinedRoot.forStore(store.rootDirectory)
        destinationExisted = try checkDestination()
    }

    /// Refuses a destination that resolves outside the root (e.g. a symlink out) or is not a
    /// regular file; returns whether a file is there.
    private func checkDestination() throws(TFTPError) -> Bool {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.openBeneath(root.descriptor, path.bytes, options: .pathOnly)
        } catch  where FileAccessError.Kind(error.errno) == .notFound {
            return false
        } catch {
            throw .lookup(error, name: name)
        }
        let status: FileStatus
        do {
            status = try FileSystem.status(of: file.descriptor)
        } catch {
            throw .io(error, name: name)
        }
        guard status.isRegularFile else {
            throw .io("\(name.debugDescription) exists and is not a regular file")
        }
        return true
    }

    /// The SHA-256 of the current file at the destination, nil when there is none.
    func existingDigest() throws(TFTPError) -> String? {
        try root.existingDigest(of: name)
    }

    /// Creates the destination's directories as needed and a fresh temporary beside it.
    mutating func makeTemporary() throws(TFTPError) -> UploadTemporary {
        let directory: OwnedDescriptor
        do {
            directory = try root.openParentDirectory(of: path, create: true, made: &madeDirectories)
        } catch {
            switch FileAccessError.Kind(error.errno) {
            case .accessDenied: throw .accessViolation(name)
            default: throw .io(error, name: name)
            }
        }
        do {
            return try UploadTemporary(in: directory)
        } catch {
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
