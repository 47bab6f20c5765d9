import Glibc
import VolleySystem

extension ConfinedRoot {
    /// Opens the directory below the root that holds `path`'s leaf (`O_RDONLY|O_DIRECTORY`);
    /// with `create`, missing directories are made (mode 0755).
    ///
    /// Every directory is resolved from the root descriptor with `RESOLVE_BENEATH`, and new
    /// directories are made with `mkdirat` on an already confined parent, so symlinks inside
    /// the root are followed but nothing outside it is ever reached or created.
    func openParentDirectory(of path: RelativePath, create: Bool) throws(SystemError) -> OwnedDescriptor {
        var current = try FileSystem.openBeneath(descriptor, ".", flags: O_RDONLY | O_DIRECTORY)
        var prefix: [String] = []
        for component in path.directories {
            prefix.append(component)
            current = try openDirectory(prefix.joined(separator: "/"), creatingIn: create ? current.rawValue : nil, named: component)
        }
        return current
    }

    /// Opens `prefixPath` below the root; when it is missing and `parent` is given, makes it there first.
    private func openDirectory(_ prefixPath: String, creatingIn parent: Int32?, named name: String) throws(SystemError) -> OwnedDescriptor {
        do {
            return try FileSystem.openBeneath(descriptor, prefixPath, flags: O_RDONLY | O_DIRECTORY)
        } catch where error.errno == .noSuchFileOrDirectory && parent != nil {
            var made = false
            do {
                try FileSystem.makeDirectory(name, in: parent!, mode: 0o755)
                made = true
            } catch where error.errno == .fileExists {
                // Made concurrently by someone else: open it below.
            }
            let directory = try FileSystem.openBeneath(descriptor, prefixPath, flags: O_RDONLY | O_DIRECTORY)
            // 0755 whatever the umask (the unit's UMask=0007 would leave 0750): TFTP clients
            // are served as "others" by tftpd-hpa convention, and listings must see it.
            if made { try FileSystem.setPermissions(directory.rawValue, 0o755) }
            return directory
        }
    }
}
