import VolleySystem

/// What ``RootDirectoryStore/putFile(_:bytes:)`` and its siblings did.
public enum PutFileResult: Sendable, Hashable {
    /// The content was written (atomically replacing any previous file).
    case written
    /// The root already held a file with the same SHA-256; nothing was written.
    case unchanged
}

/// Manages the files under a served root directory: list, delete, checksum and upload,
/// with every name confined beneath the root like a TFTP read request.
public struct RootDirectoryStore: Sendable {
    /// The directory whose files are managed.
    public let rootDirectory: String

    /// Creates a store for `rootDirectory`; the directory is opened anew by each operation.
    public init(rootDirectory: String) {
        self.rootDirectory = rootDirectory
    }

    /// Relative paths ("a.bin", "sub/dir/b.bin") of the regular files under the root, sorted;
    /// skips in-progress upload temporaries and does not follow symlinked directories.
    /// - Throws: ``TFTPError/invalidConfiguration(_:)`` when the root is missing;
    ///   ``TFTPError/io(_:)`` when a directory cannot be read.
    public func listFiles() throws(TFTPError) -> [String] {
        let root = try ConfinedRoot.forStore(rootDirectory)
        do {
            return try FileTreeLister(root: root).list()
        } catch {
            throw .io(error.description)
        }
    }

    /// Deletes the regular file (or symlink) `name` below the root; directories are refused.
    /// - Parameter name: a path relative to the root (`boot/vmlinuz`).
    /// - Throws: ``TFTPError/fileNotFound(_:)`` when it is missing;
    ///   ``TFTPError/accessViolation(_:)`` for a name outside the root.
    public func deleteFile(_ name: String) throws(TFTPError) {
        let path = try RelativePath.forStore(name)
        let root = try ConfinedRoot.forStore(rootDirectory)
        let directory: OwnedDescriptor
        do {
            directory = try root.openParentDirectory(of: path, create: false)
        } catch {
            throw .lookup(error, name: name)
        }
        do {
            try FileSystem.unlink(path.leaf, in: directory.descriptor)
        } catch  where error.errno == .noSuchFileOrDirectory {
            throw .fileNotFound(name)
        } catch {
            throw .io(error, name: name)
        }
    }

    /// Removes the upload temporaries a crash left below the root (none is ever served, but
    /// they take space); one still being written by a live process stays.
    /// - Returns: their paths below the root, sorted.
    /// - Throws: ``TFTPError/invalidConfiguration(_:)`` when the root is missing; ``TFTPError/io(_:)``.
    public func removeStaleUploads() throws(TFTPError) -> [String] {
        let root = try ConfinedRoot.forStore(rootDirectory)
        do {
            return try StaleUploads(root: root).remove()
        } catch {
            throw .io(error.description)
        }
    }

    /// Removes the directory `name` below the root if it is empty (never a file, never the root).
    /// - Returns: false when it holds something or is not there.
    /// - Throws: ``TFTPError/accessViolation(_:)`` for a name outside the root; ``TFTPError/io(_:)``.
    public func removeEmptyDirectory(_ name: String) throws(TFTPError) -> Bool {
        let path = try RelativePath.forStore(name)
        let root = try ConfinedRoot.forStore(rootDirectory)
        let parent: OwnedDescriptor
        do {
            parent = try root.openParentDirectory(of: path, create: false)
        } catch  where error.errno == .noSuchFileOrDirectory {
            return false
        } catch {
            throw .lookup(error, name: name)
        }
        do {
            try FileSystem.removeDirectory(path.leaf, in: parent.descriptor)
            return true
        } catch  where [.directoryNotEmpty, .noSuchFileOrDirectory, .fileExists].contains(error.errno) {
            return false
        } catch {
            throw .io(error, name: name)
        }
    }

    /// Whether the file `name` has the SHA-256 `sha256` (hex, any case); a missing file gives `false`.
    /// - Throws: ``TFTPError/accessViolation(_:)`` for a name outside the root; ``TFTPError/io(_:)``.
    public func checkFileChecksum(_ name: String, sha256: String) throws(TFTPError) -> Bool {
        do {
            return SHA256Hex.matches(try self.sha256(ofFile: name), sha256)
        } catch .fileNotFound {
            return false
        }
    }

    /// The SHA-256 of the file `name` below the root, as lowercase hex.
    /// - Throws: ``TFTPError/fileNotFound(_:)`` when it is missing.
    public func sha256(ofFile name: String) throws(TFTPError) -> String {
        let root = try ConfinedRoot.forStore(rootDirectory)
        guard let digest = try root.existingDigest(of: name) else { throw .fileNotFound(name) }
        return digest
    }
}
