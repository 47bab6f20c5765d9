import Glibc
import VolleyReactor

extension ConfinedRoot {
    /// Opens the directory below the root that holds `path`'s leaf, as an `O_RDONLY|O_DIRECTORY`
    /// descriptor the caller closes; with `create`, missing directories are made (mode 0755).
    ///
    /// Every directory is resolved from the root descriptor with `RESOLVE_BENEATH`, and new
    /// directories are made with `mkdirat` on an already confined parent, so symlinks inside
    /// the root are followed but nothing outside it is ever reached or created.
    func openParentDirectory(of path: RelativePath, create: Bool) throws(SystemError) -> Int32 {
        var current = try openBeneath(descriptor, ".", flags: O_RDONLY | O_DIRECTORY)
        var prefix: [String] = []
        for component in path.directories {
            prefix.append(component)
            let prefixPath = prefix.joined(separator: "/")
            do {
                let next = try openDirectory(prefixPath, creatingIn: create ? current : nil, named: component)
                closeDescriptor(current)
                current = next
            } catch {
                closeDescriptor(current)
                throw error
            }
        }
        return current
    }

    /// Opens `prefixPath` below the root; when it is missing and `parent` is given, makes it there first.
    private func openDirectory(_ prefixPath: String, creatingIn parent: Int32?, named name: String) throws(SystemError) -> Int32 {
        do {
            return try openBeneath(descriptor, prefixPath, flags: O_RDONLY | O_DIRECTORY)
        } catch where error.errno == ENOENT && parent != nil {
            do {
                _ = try syscall("mkdirat") { mkdirat(parent!, name, 0o755) }
            } catch where error.errno == EEXIST {
                // Made concurrently by someone else: open it below.
            }
            return try openBeneath(descriptor, prefixPath, flags: O_RDONLY | O_DIRECTORY)
        }
    }
}
