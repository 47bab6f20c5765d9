/// The Jumpstarter driver's file API: list, delete, checksum and upload, confined to the root.
extension TFTPServer {
    /// File management works on the root in force (it follows a reload).
    private var store: RootDirectoryStore { RootDirectoryStore(rootDirectory: configuration.rootDirectory) }

    /// Relative paths of the regular files under the root, sorted.
    /// - Throws: ``TFTPError/invalidConfiguration(_:)`` when the root is missing.
    public func listFiles() throws(TFTPError) -> [String] { try store.listFiles() }

    /// Deletes a file under the root.
    /// - Throws: ``TFTPError/fileNotFound(_:)`` when it is missing, ``TFTPError/accessViolation(_:)``
    ///   for a name outside the root.
    public func deleteFile(_ name: String) throws(TFTPError) {
        try store.deleteFile(name)
        _ = createdFiles.withLock { $0.remove(name) }
    }

    /// Whether the root holds `name` with this SHA-256 (hex, any case); false when it is missing.
    public func checkFileChecksum(_ name: String, sha256: String) throws(TFTPError) -> Bool {
        try store.checkFileChecksum(name, sha256: sha256)
    }

    /// Copies a local file into the root atomically; skipped when the root already holds the same bytes.
    /// - Throws: ``TFTPError/fileNotFound(_:)`` when `localFile` is missing; ``TFTPError/io(_:)``.
    @discardableResult
    public func putFile(_ name: String, contentsOf localFile: String) throws(TFTPError) -> PutFileResult {
        remember(try store.storeFile(name, contentsOf: localFile), as: name)
    }

    /// Writes bytes into the root atomically; skipped when the root already holds the same bytes.
    @discardableResult
    public func putFile(_ name: String, bytes: [UInt8]) throws(TFTPError) -> PutFileResult {
        remember(try store.storeFile(name, bytes: bytes), as: name)
    }

    /// Streams chunks into the root atomically. With `sha256` given and matching the stored
    /// file, nothing is read or written; otherwise the written bytes are checked against it.
    /// - Throws: ``TFTPError/checksumMismatch(_:)`` (the old file stays), ``TFTPError/io(_:)``.
    @discardableResult
    public func putFile<S: AsyncSequence>(
        _ name: String, from chunks: S, sha256: String? = nil
    ) async throws(TFTPError) -> PutFileResult where S.Element == [UInt8] {
        remember(try await store.storeFile(name, from: chunks, sha256: sha256), as: name)
    }

    /// ``putFile(_:from:sha256:)`` that also says whether the name was new (nothing was there
    /// before the upload), as the store saw it, and which directories it made on the way
    /// (root-relative, parents first): for an API that answers 201 or 200 without looking at
    /// the file a second time, and that removes what a session created.
    public func putFileReportingCreation<S: AsyncSequence>(
        _ name: String, from chunks: S, sha256: String? = nil
    ) async throws(TFTPError) -> (result: PutFileResult, created: Bool, madeDirectories: [String]) where S.Element == [UInt8] {
        let stored = try await store.storeFile(name, from: chunks, sha256: sha256)
        return (remember(stored, as: name), stored.created, stored.madeDirectories)
    }

    /// Removes the upload temporaries a crashed upload left below the root (`volley serve`
    /// does at start), keeping any a live process is still writing.
    /// - Returns: their paths below the root, sorted.
    public func removeStaleUploads() throws(TFTPError) -> [String] {
        try store.removeStaleUploads()
    }

    /// Removes the directory `name` below the root if it is empty; false when it holds
    /// something or is not there.
    /// - Throws: ``TFTPError/accessViolation(_:)`` for a name outside the root; ``TFTPError/io(_:)``.
    @discardableResult
    public func removeEmptyDirectory(_ name: String) throws(TFTPError) -> Bool {
        try store.removeEmptyDirectory(name)
    }

    /// Notes a file this server created, for ``TFTPServerConfiguration/removeCreatedFilesOnStop``.
    private func remember(_ stored: StoredFile, as name: String) -> PutFileResult {
        if stored.created { _ = createdFiles.withLock { $0.insert(name) } }
        return stored.result
    }

    /// Deletes the files this server created (Jumpstarter's `remove_created_on_close`).
    func removeCreatedFiles() {
        let names = createdFiles.withLock { names in
            defer { names.removeAll() }
            return names
        }
        for name in names { try? store.deleteFile(name) }
    }
}
