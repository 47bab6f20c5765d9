import VolleySystem

/// A regular file opened for reading, with the identity it had at open.
///
/// Owns its descriptor (closed when the last user lets go), so transfers of the same
/// inode can share one. A file replaced by rename keeps serving its old content; a file
/// rewritten in place is caught by ``hasChanged()``.
final class OpenFile: Sendable {
    private let owned: OwnedDescriptor
    /// The status at open: size, identity, modification and change times.
    let status: FileStatus

    /// The file's pages mapped for sending without a read (see ``FileMapping``); nil for
    /// small files, where a read per window costs little, and where the file system cannot
    /// map files (then every window is read).
    let mapping: FileMapping?
    /// Files at least this large are mapped.
    static let mappingThreshold: UInt64 = 64 * 1024

    init(_ file: consuming OwnedDescriptor, status: FileStatus) {
        mapping =
            status.size >= Self.mappingThreshold && status.size <= UInt64(Int.max)
            ? try? FileMapping(descriptor: file.descriptor, length: Int(status.size)) : nil
        owned = file
        self.status = status
    }

    /// The file's descriptor, borrowed: valid while this object lives.
    var descriptor: Descriptor { owned.descriptor }

    /// The size in bytes at open.
    var size: UInt64 { status.size }

    /// Whether the file's content may differ from what it was at open: its size or
    /// modification time moved (an in-place rewrite, a truncation, an append), or its
    /// change time did while it still has a name (a write whose mtime was set back, as
    /// `rsync --inplace` does, or a chmod).
    ///
    /// A file that lost its last name (replaced by a rename, deleted) changes its ctime
    /// but not its content, which nobody can reach any more: it is served to the end.
    /// A write updates the times before it copies its bytes, so an unchanged status after a
    /// read proves that every earlier read saw the old content (up to the kernel's timestamp
    /// granularity within one clock tick): transfers check it after their final read, and
    /// once a second before that to stop early.
    func hasChanged() throws(SystemError) -> Bool {
        let now = try FileSystem.status(of: descriptor)
        if now.size != status.size || now.modificationNanoseconds != status.modificationNanoseconds { return true }
        return now.linkCount > 0 && now.changeNanoseconds != status.changeNanoseconds
    }
}
