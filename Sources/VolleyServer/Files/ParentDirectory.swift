import VolleySystem

extension ConfinedRoot {
    /// Opens the directory below the root that holds `path`'s leaf (`O_RDONLY|O_DIRECTORY`);
    /// with `create`, missing directories are made (mode 0755).
    ///
    /// Every directory is resolved with `RESOLVE_BENEATH`, and new directories are made with
    /// `mkdirat` on an already confined parent, so symlinks inside the root are followed but
    /// nothing outside it is ever reached or created.
    ///
    /// The cost is linear in the number of directories: one walk from the root when they all
    /// exist, else one step per directory from the one before. (Resolving every prefix from the
    /// root, as this once did, made a name of 2,000 components cost two million lookups.)
    func openParentDirectory(of path: RelativePath, create: Bool) throws(SystemError) -> OwnedDescriptor {
        var made: [String] = []
        return try openParentDirectory(of: path, create: create, made: &made)
    }

    /// ``openParentDirectory(of:create:)``, appending to `made` the directories it made
    /// (root-relative, parents first), so that they can be removed again.
    func openParentDirectory(of path: RelativePath, create: Bool, made: inout [String]) throws(SystemError) -> OwnedDescriptor {
        let directories = path.directories
        guard !directories.isEmpty else { return try FileSystem.openBeneath(descriptor, ".", options: .directory) }
        do {
            return try FileSystem.openBeneath(descriptor, directories.joined(separator: "/"), options: .directory)
        } catch  where error.errno == .noSuchFileOrDirectory && create {
            // Something is missing: walk down, making what is missing.
        }
        var current = try FileSystem.openBeneath(descriptor, ".", options: .directory)
        for index in directories.indices {
            current = try openOrMakeDirectory(directories[...index], in: current.descriptor, made: &made)
        }
        return current
    }

    /// Opens the last of `prefix` in `parent` (the directory the rest of `prefix` names); when
    /// it is missing, makes it there first.
    private func openOrMakeDirectory(
        _ prefix: ArraySlice<String>, in parent: Descriptor, made madeDirectories: inout [String]
    ) throws(SystemError) -> OwnedDescriptor {
        let name = prefix.last!
        do {
            return try openDirectory(prefix, in: parent)
        } catch  where error.errno == .noSuchFileOrDirectory {
            var made = false
            do {
                try FileSystem.makeDirectory(name, in: parent, mode: 0o755)
                made = true
            } catch  where error.errno == .fileExists {
                // Made concurrently by someone else, or a dangling symlink: open it below.
            }
            let directory = try openDirectory(prefix, in: parent)
            // 0755 whatever the umask (the unit's UMask=0007 would leave 0750): TFTP clients
            // are served as "others" by tftpd-hpa convention, and listings must see it.
            if made {
                try FileSystem.setPermissions(directory.descriptor, 0o755)
                madeDirectories.append(prefix.joined(separator: "/"))
            }
            return directory
        }
    }

    /// The last of `prefix`, resolved beneath `parent`. A symlink that leaves `parent` (`EXDEV`)
    /// may still land inside the root (`sub/up -> ../images`), so the whole prefix is then
    /// resolved again from the root, which decides.
    private func openDirectory(_ prefix: ArraySlice<String>, in parent: Descriptor) throws(SystemError) -> OwnedDescriptor {
        do {
            return try FileSystem.openBeneath(parent, prefix.last!, options: .directory)
        } catch  where error.errno == .improperLink {
            return try FileSystem.openBeneath(descriptor, prefix.joined(separator: "/"), options: .directory)
        }
    }
}
