import VolleySystem

/// Walks the tree below a ``ConfinedRoot`` and collects the relative paths of its regular files.
///
/// Directories are entered only as real directories (symlinks not followed), so a symlinked
/// directory is never followed, in or out of the root, and loops are impossible. A symlink to a
/// file is listed when it resolves, beneath the root, to a regular file (it is servable).
/// Upload temporaries are skipped.
struct FileTreeLister {
    /// The root being listed.
    let root: ConfinedRoot

    /// The sorted relative paths of the regular files below the root.
    func list() throws(SystemError) -> [String] {
        var found: [String] = []
        let top = try FileSystem.openBeneath(root.descriptor, ".", options: .directory)
        try walk(top.descriptor, prefix: "", into: &found)
        return found.sorted()
    }

    /// Lists `directory` whose path below the root is `prefix`.
    private func walk(_ directory: Descriptor, prefix: String, into found: inout [String]) throws(SystemError) {
        for entry in try FileSystem.entries(of: directory) where !entry.name.hasPrefix(uploadTemporaryPrefix) {
            let relative = prefix + entry.name
            switch try Self.kind(of: entry, in: directory) {
            case .regular:
                found.append(relative)
            case .directory:
                let child: OwnedDescriptor
                do {
                    child = try FileSystem.openBeneath(directory, entry.name, options: .directory, followSymlinks: false)
                } catch  where Self.vanished(error) {
                    continue
                }
                try walk(child.descriptor, prefix: relative + "/", into: &found)
            case .symbolicLink:
                if try symlinkIsServableFile(relative) { found.append(relative) }
            case .other, nil:
                continue
            }
        }
    }

    /// The entry's kind, asking `fstatat` when the file system does not report it.
    static func kind(of entry: (name: String, kind: FileStatus.Kind?), in directory: Descriptor) throws(SystemError) -> FileStatus.Kind? {
        if let kind = entry.kind { return kind }
        do {
            return try FileSystem.status(of: entry.name, in: directory).kind
        } catch  where Self.vanished(error) {
            return nil
        }
    }

    /// Whether the symlink at `relative` resolves, beneath the root, to a regular file.
    private func symlinkIsServableFile(_ relative: String) throws(SystemError) -> Bool {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.openBeneath(root.descriptor, relative, options: .pathOnly)
        } catch  where Self.vanished(error) {
            return false
        }
        return try FileSystem.status(of: file.descriptor).isRegularFile
    }

    /// Errors that mean the entry disappeared, escapes, loops or is unreadable: skip it.
    static func vanished(_ error: SystemError) -> Bool {
        switch FileAccessError.Kind(error.errno) {
        case .notFound, .accessDenied: true
        default: false
        }
    }
}
