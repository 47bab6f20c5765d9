import VolleySystem

/// Upload temporaries that a process which died mid-upload (`kill -9`, a crash, power loss)
/// left below the root, found and removed at start.
///
/// A live upload holds an exclusive `flock` on its temporary from creation to rename, and
/// the kernel drops it with the process. So a temporary whose lock can be taken is stale,
/// and one whose lock cannot is being written, by another process on the same root (the
/// old one during an upgrade, say), and stays. The root is walked as ``RootWalk`` does.
struct StaleUploads {
    let root: ConfinedRoot

    /// Removes the stale temporaries; their paths below the root, sorted.
    func remove() throws(SystemError) -> [String] {
        var removed: [String] = []
        try RootWalk(root: root).forEachEntry { directory, name, relative, kind throws(SystemError) in
            guard kind == .regular, name.hasPrefix(uploadTemporaryPrefix), try isAbandoned(name, in: directory) else { return }
            do throws(SystemError) {
                try FileSystem.unlink(name, in: directory)
                removed.append(relative)
            } catch  where RootWalk.vanished(error) {
                return
            }
        }
        return removed.sorted()
    }

    /// Whether nobody holds the temporary's lock (then nobody is writing it).
    private func isAbandoned(_ name: String, in directory: Descriptor) throws(SystemError) -> Bool {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.openBeneath(directory, name, followSymlinks: false)
        } catch  where RootWalk.vanished(error) {
            return false
        }
        return try FileSystem.tryLockExclusive(file.descriptor)
    }
}
