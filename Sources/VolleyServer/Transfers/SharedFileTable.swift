import VolleySystem

/// Open files shared by the transfers that read the same, unchanged inode.
///
/// A boot storm has thousands of clients fetch one initrd: one descriptor serves them all
/// instead of one each (which would also double the descriptors per transfer). A file
/// replaced by rename is a new inode, and a file changed in place has a new status, so
/// neither is shared with transfers that opened the old one.
struct SharedFileTable {
    private struct Key: Hashable {
        let device: UInt64
        let inode: UInt64
        let size: UInt64
        let modification: Int64
        let change: Int64

        init(_ status: FileStatus) {
            device = status.device
            inode = status.inode
            size = status.size
            modification = status.modificationNanoseconds
            change = status.changeNanoseconds
        }
    }

    private var entries: [Key: (file: OpenFile, users: Int)] = [:]

    /// Takes a freshly opened file; returns the one to use: an already open file of the same
    /// inode and status (then `fresh` is dropped and closed), or `fresh` itself.
    mutating func adopt(_ fresh: OpenFile) -> OpenFile {
        let key = Key(fresh.status)
        if let entry = entries[key] {
            entries[key] = (entry.file, entry.users + 1)
            return entry.file
        }
        entries[key] = (fresh, 1)
        return fresh
    }

    /// Gives a file back; the table forgets it (and it closes) when its last transfer is done.
    mutating func release(_ file: OpenFile) {
        let key = Key(file.status)
        guard let entry = entries[key], entry.file === file else { return }
        entries[key] = entry.users <= 1 ? nil : (entry.file, entry.users - 1)
    }

    /// Number of distinct open files.
    var count: Int { entries.count }
}
