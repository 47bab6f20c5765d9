import Glibc
import VolleyReactor

/// Open files shared by the transfers that read the same inode.
///
/// A boot storm has thousands of clients fetch one initrd: one descriptor serves them all
/// instead of one each (which would also double the descriptors per transfer). A file
/// replaced by rename is a new inode, so transfers already running keep the old content.
struct SharedFileTable {
    struct Key: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private var entries: [Key: (descriptor: Int32, users: Int)] = [:]

    /// Takes a freshly opened descriptor; returns the one to use (maybe an existing one, in
    /// which case `fresh` is closed) and the key to release it with.
    mutating func adopt(_ fresh: Int32) -> (descriptor: Int32, key: Key?) {
        var status = stat()
        guard fstat(fresh, &status) == 0 else { return (fresh, nil) }
        let key = Key(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        if let entry = entries[key] {
            closeDescriptor(fresh)
            entries[key] = (entry.descriptor, entry.users + 1)
            return (entry.descriptor, key)
        }
        entries[key] = (fresh, 1)
        return (fresh, key)
    }

    /// Gives a descriptor back; closes it when its last transfer is done.
    mutating func release(_ descriptor: Int32, key: Key?) {
        guard let key, let entry = entries[key] else {
            closeDescriptor(descriptor)
            return
        }
        if entry.users <= 1 {
            entries[key] = nil
            closeDescriptor(entry.descriptor)
        } else {
            entries[key] = (entry.descriptor, entry.users - 1)
        }
    }

    /// Number of distinct open files.
    var count: Int { entries.count }
}
