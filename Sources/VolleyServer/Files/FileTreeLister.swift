import VolleySystem

/// The relative paths of the regular files below a ``ConfinedRoot`` (``RootWalk``: a symlinked
/// directory is never followed, in or out of the root). A symlink to a file is listed when it
/// resolves, beneath the root, to a regular file (it is servable). Upload temporaries are skipped.
struct FileTreeLister {
    /// The root being listed.
    let root: ConfinedRoot

    /// The sorted relative paths of the regular files below the root.
    func list() throws(SystemError) -> [String] {
        var found: [String] = []
        try RootWalk(root: root).forEachEntry { _, name, relative, kind throws(SystemError) in
            guard !name.hasPrefix(uploadTemporaryPrefix) else { return }
            switch kind {
            case .regular: found.append(relative)
            case .symbolicLink: if try symlinkIsServableFile(relative) { found.append(relative) }
            default: return
            }
        }
        return found.sorted()
    }

    /// Whether the symlink at `relative` resolves, beneath the root, to a regular file.
    private func symlinkIsServableFile(_ relative: String) throws(SystemError) -> Bool {
        let file: OwnedDescriptor
        do {
            file = try FileSystem.openBeneath(root.descriptor, relative, options: .pathOnly)
        } catch  where RootWalk.vanished(error) {
            return false
        }
        return try FileSystem.status(of: file.descriptor).isRegularFile
    }
}
