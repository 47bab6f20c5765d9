import VolleySystem

/// A depth-first walk of the tree below a ``ConfinedRoot``: the one way the server reads its
/// whole root (listing it, sweeping stale uploads).
///
/// Directories are entered only as real directories (symlinks never followed), so the walk
/// cannot leave the root or loop. An entry that vanishes meanwhile, or cannot be read, is skipped.
struct RootWalk {
    /// The root walked.
    let root: ConfinedRoot

    /// Calls `visit` with every entry that is not a directory: the directory holding it, its
    /// name, its path below the root, and its kind (nil when it vanished).
    func forEachEntry(
        _ visit: (_ directory: Descriptor, _ name: String, _ relative: String, _ kind: FileStatus.Kind?) throws(SystemError) -> Void
    ) throws(SystemError) {
        let top = try FileSystem.openBeneath(root.descriptor, ".", options: .directory)
        try walk(top.descriptor, prefix: "", visit)
    }

    private func walk(
        _ directory: Descriptor, prefix: String,
        _ visit: (_ directory: Descriptor, _ name: String, _ relative: String, _ kind: FileStatus.Kind?) throws(SystemError) -> Void
    ) throws(SystemError) {
        for entry in try FileSystem.entries(of: directory) {
            let relative = prefix + entry.name
            let kind = try Self.kind(of: entry, in: directory)
            guard kind == .directory else {
                try visit(directory, entry.name, relative, kind)
                continue
            }
            let child: OwnedDescriptor
            do {
                child = try FileSystem.openBeneath(directory, entry.name, options: .directory, followSymlinks: false)
            } catch  where Self.vanished(error) {
                continue
            }
            try walk(child.descriptor, prefix: relative + "/", visit)
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

    /// Errors that mean the entry disappeared, escapes, loops or is unreadable: skip it.
    static func vanished(_ error: SystemError) -> Bool {
        switch FileAccessError.Kind(error.errno) {
        case .notFound, .accessDenied: true
        default: false
        }
    }
}
