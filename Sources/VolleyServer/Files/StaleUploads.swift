import VolleySystem

/// Upload temporaries that a process which died mid-upload (`kill -9`, a crash, power loss)
/// left below the root, found and removed at start.
///
/// A live upload holds an exclusive `flock` on its temporary from creation to rename, and
/// the kernel drops it with the process. So a temporary whose lock can be taken is stale,
/// and one whose lock cannot is being written, by another process on the same root (the
/// old one during an upgrade, say), and stays. Real directories are entered; symlinks are
/// not followed.
struct StaleUploads {
    let root: ConfinedRoot

    /// Removes the stale temporaries; their paths below the root, sorted.
    func remove() throws(SystemError) -> [String] {
        var removed: [String] = []
        let top = try FileSystem.openBeneath(root.descriptor, ".", options: .directory)
        try sweep(top.descriptor, prefix: "", removed: &removed)
        return removed.sorted()
    }

    private func sweep(_ directory: Descriptor, prefix: String, removed: inout [String]) throws(SystemError) {
        for entry in try FileSystem.entries(of: directory) {
            switch try FileTreeLister.kind(of: entry, in: directory) {
            case .directory:
                guard let child = try? FileSystem.openBeneath(directory, entry.name, options: .directory, followSymlinks: false) else {
                    continue  // vanished, or unreadable: nothing of ours can be in it
                }
                try sweep(child.descriptor, prefix: prefix + entry.name + "/", removed: &removed)
            case .regular where entry.name.hasPrefix(uploadTemporaryPrefix):
                guard try isAbandoned(entry.name, in: directory) else { continue }
                do {
                    try FileSystem.unlink(entry.name, in: directory)
                    removed.append(prefix + entry.name)
                } catch  where FileTreeLister.vanished(error) {
                    continue
                }
            default:
                continue
            }
        }
    }

    /// Whether nobody holds the temporary's lock (then nobody is writing it).
    private func isAbandoned(_ name: String, in directory: Descriptor) throws(SystemError) -> Bool {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.openBeneath(directory, name, followSymlinks: false)
        } catch  where FileTreeLister.vanished(error) {
            return false
        }
        return try FileSystem.tryLockExclusive(file.descriptor)
    }
}
