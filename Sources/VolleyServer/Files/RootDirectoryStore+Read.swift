import VolleySystem

/// A regular file under a root, as the file API reports it.
public struct StoredFileInfo: Sendable, Hashable {
    /// The path relative to the root (`boot/vmlinuz`).
    public var path: String
    /// Size in bytes.
    public var size: UInt64
    /// Last modification of the content, in nanoseconds since the epoch.
    public var modificationNanoseconds: Int64
    /// The file's identity with ``inode``: a rename onto the path gives a new one.
    public var device: UInt64
    /// See ``device``.
    public var inode: UInt64
    /// Last change of the content or the inode, in nanoseconds since the epoch.
    public var changeNanoseconds: Int64

    init(path: String, status: FileStatus) {
        self.path = path
        size = status.size
        modificationNanoseconds = status.modificationNanoseconds
        device = status.device
        inode = status.inode
        changeNanoseconds = status.changeNanoseconds
    }
}

/// A file under the root opened for reading through the same confinement as a TFTP read.
///
/// Keeps its descriptor until released, so a file replaced meanwhile is read to the end
/// as it was when opened.
public final class StoredFileReader: Sendable {
    private let file: OpenFile
    /// What the file was when opened.
    public let info: StoredFileInfo

    fileprivate init(_ file: OpenFile, path: String) {
        self.file = file
        info = StoredFileInfo(path: path, status: file.status)
    }

    /// Up to `count` bytes from `offset`; empty at the end of the file.
    /// - Throws: ``TFTPError/io(_:)``.
    public func read(upTo count: Int, at offset: UInt64) throws(TFTPError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemError) in try FileSystem.read(file.descriptor, into: buffer, at: offset) }
        }
        switch got {
        case .success(let count):
            bytes.removeSubrange(count...)
            return bytes
        case .failure(let error):
            throw .io(error, name: info.path)
        }
    }

    /// The SHA-256 of the whole file, as lowercase hex.
    public func sha256() throws(TFTPError) -> String {
        do {
            try FileSystem.rewind(file.descriptor)
            return try SHA256Hex.of(descriptor: file.descriptor)
        } catch {
            throw .io(error, name: info.path)
        }
    }
}

extension RootDirectoryStore {
    /// The regular files under the root with their size and times, sorted by path.
    /// - Throws: ``TFTPError/invalidConfiguration(_:)`` when the root is missing; ``TFTPError/io(_:)``.
    public func listFileInfos() throws(TFTPError) -> [StoredFileInfo] {
        let root = try ConfinedRoot.forStore(rootDirectory)
        let names: [String]
        do {
            names = try FileTreeLister(root: root).list()
        } catch {
            throw .io(error.description)
        }
        return names.compactMap { name in
            // A file that vanished since the listing is left out.
            guard let file = try? FileSystem.openBeneath(root.descriptor, name, options: .pathOnly),
                let status = try? FileSystem.status(of: file.descriptor), status.isRegularFile
            else { return nil }
            return StoredFileInfo(path: name, status: status)
        }
    }

    /// The regular file `name`'s size, times and identity.
    /// - Throws: ``TFTPError/fileNotFound(_:)``, ``TFTPError/accessViolation(_:)``, ``TFTPError/io(_:)``.
    public func fileInfo(_ name: String) throws(TFTPError) -> StoredFileInfo {
        let path = try RelativePath.forStore(name)
        let root = try ConfinedRoot.forStore(rootDirectory)
        let status: FileStatus
        do {
            let file = try FileSystem.openBeneath(root.descriptor, path.bytes, options: .pathOnly)
            status = try FileSystem.status(of: file.descriptor)
        } catch {
            throw .lookup(error, name: name)
        }
        guard status.isRegularFile else { throw .io("\(name.debugDescription) is not a regular file") }
        return StoredFileInfo(path: name, status: status)
    }

    /// Opens the regular file `name` for reading, confined to the root like a TFTP read.
    /// - Throws: ``TFTPError/fileNotFound(_:)``, ``TFTPError/accessViolation(_:)`` for a name
    ///   outside the root, ``TFTPError/io(_:)`` (e.g. a directory).
    public func openFile(_ name: String, requireWorldReadable: Bool = false) throws(TFTPError) -> StoredFileReader {
        let root = try ConfinedRoot.forStore(rootDirectory)
        switch root.openForReading(name, requireWorldReadable: requireWorldReadable) {
        case .success(let file): return StoredFileReader(file, path: name)
        case .failure(let error): throw .reading(error, name: name)
        }
    }
}
