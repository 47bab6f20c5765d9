import Glibc
internal import CEpoll
import VolleyReactor

/// Walks the tree below a ``ConfinedRoot`` and collects the relative paths of its regular files.
///
/// Directories are entered only as real directories (`RESOLVE_NO_SYMLINKS`), so a symlinked
/// directory is never followed, in or out of the root, and loops are impossible. A symlink to a
/// file is listed when it resolves, beneath the root, to a regular file (it is servable).
/// Upload temporaries are skipped.
struct FileTreeLister {
    /// The root being listed.
    let root: ConfinedRoot

    /// The sorted relative paths of the regular files below the root.
    func list() throws(SystemError) -> [String] {
        var found: [String] = []
        let top = try openBeneath(root.descriptor, ".", flags: O_RDONLY | O_DIRECTORY)
        try walk(top, prefix: "", into: &found)
        return found.sorted()
    }

    /// Lists `directory` (consumed and closed) whose path below the root is `prefix`.
    private func walk(_ directory: Int32, prefix: String, into found: inout [String]) throws(SystemError) {
        let entries: [(name: String, type: UInt8)]
        do {
            entries = try readEntries(directory)
        } catch {
            closeDescriptor(directory)
            throw error
        }
        defer { closeDescriptor(directory) }
        for entry in entries where !entry.name.hasPrefix(uploadTemporaryPrefix) {
            let relative = prefix + entry.name
            switch try kind(of: entry, in: directory) {
            case UInt8(DT_REG):
                found.append(relative)
            case UInt8(DT_DIR):
                let child: Int32
                do {
                    child = try openBeneath(directory, entry.name, flags: O_RDONLY | O_DIRECTORY,
                                            extraResolve: VOLLEY_RESOLVE_NO_SYMLINKS)
                } catch where Self.vanished(error) {
                    continue
                }
                try walk(child, prefix: relative + "/", into: &found)
            case UInt8(DT_LNK):
                if try symlinkIsServableFile(relative) { found.append(relative) }
            default:
                continue
            }
        }
    }

    /// The names and `d_type`s of `directory`'s entries, without `.` and `..` or names that are not UTF-8.
    private func readEntries(_ directory: Int32) throws(SystemError) -> [(name: String, type: UInt8)] {
        let streamDescriptor = try syscall("dup") { dup(directory) }
        guard let stream = fdopendir(streamDescriptor) else {
            let code = errno
            closeDescriptor(streamDescriptor)
            throw SystemError("fdopendir", errno: code)
        }
        defer { closedir(stream) }
        var entries: [(name: String, type: UInt8)] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw SystemError("readdir", errno: errno) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(validatingCString: $0)
                }
            }
            guard let name, name != ".", name != ".." else { continue }
            entries.append((name, entry.pointee.d_type))
        }
        return entries
    }

    /// The entry's `DT_*` type, asking `fstatat` when the file system does not report it.
    private func kind(of entry: (name: String, type: UInt8), in directory: Int32) throws(SystemError) -> UInt8 {
        if entry.type != UInt8(DT_UNKNOWN) { return entry.type }
        var status = stat()
        do {
            _ = try syscall("fstatat") { fstatat(directory, entry.name, &status, AT_SYMLINK_NOFOLLOW) }
        } catch where Self.vanished(error) {
            return UInt8(DT_UNKNOWN)
        }
        return switch status.st_mode & S_IFMT {
        case S_IFREG: UInt8(DT_REG)
        case S_IFDIR: UInt8(DT_DIR)
        case S_IFLNK: UInt8(DT_LNK)
        default: UInt8(DT_UNKNOWN)
        }
    }

    /// Whether the symlink at `relative` resolves, beneath the root, to a regular file.
    private func symlinkIsServableFile(_ relative: String) throws(SystemError) -> Bool {
        let fd: Int32
        do {
            fd = try openBeneath(root.descriptor, relative, flags: volleyOPath)
        } catch where Self.vanished(error) {
            return false
        }
        defer { closeDescriptor(fd) }
        return isRegularFile(try fileStatus(fd))
    }

    /// Errors that mean the entry disappeared, escapes, loops or is unreadable: skip it.
    private static func vanished(_ error: SystemError) -> Bool {
        [ENOENT, ENOTDIR, ELOOP, EXDEV, EACCES, EPERM].contains(error.errno)
    }
}
