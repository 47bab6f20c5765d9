import Glibc

/// What `fstat` says about a file, reduced to what Volley decides on.
public struct FileStatus: Hashable, Sendable {
    /// The kind of file.
    public enum Kind: Hashable, Sendable {
        case regular, directory, symbolicLink, other
    }

    /// The kind of file.
    public var kind: Kind
    /// Size in bytes.
    public var size: UInt64
    /// The device and inode: the file's identity, unchanged by renames.
    public var device: UInt64
    /// See ``device``.
    public var inode: UInt64
    /// How many names the file has; 0 once it was deleted or replaced by a rename.
    public var linkCount: UInt64
    /// The permission bits (`0o644`, …).
    public var permissions: UInt32
    /// Last modification of the content, in nanoseconds since the epoch.
    public var modificationNanoseconds: Int64
    /// Last change of the content or the inode (chmod, truncate), in nanoseconds since the epoch.
    public var changeNanoseconds: Int64

    init(_ status: stat) {
        kind =
            switch status.st_mode & S_IFMT {
            case S_IFREG: .regular
            case S_IFDIR: .directory
            case S_IFLNK: .symbolicLink
            default: .other
            }
        size = UInt64(max(0, status.st_size))
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        linkCount = UInt64(status.st_nlink)
        permissions = UInt32(status.st_mode & 0o7777)
        modificationNanoseconds = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        changeNanoseconds = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
    }

    /// Whether this is a regular file.
    public var isRegularFile: Bool { kind == .regular }

    /// Whether anyone may read the file (the "other" read bit).
    public var isWorldReadable: Bool { permissions & 0o004 != 0 }
}
