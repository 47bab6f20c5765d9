import Glibc
internal import CEpoll
import VolleyReactor

/// A file opened for a transfer: its descriptor (owned by the caller) and its size.
struct OpenedFile: Sendable {
    /// The `O_RDONLY|O_CLOEXEC` descriptor; the caller closes it.
    let descriptor: Int32
    /// The file's size in bytes at open time.
    let size: UInt64
}

/// The served root directory, opened once; every lookup below it goes through `openat2`
/// with `RESOLVE_BENEATH`, so no name can reach a file outside it.
///
/// A plain value holding a descriptor: copies share it and exactly one owner calls ``close()``.
struct ConfinedRoot: Sendable {
    /// The root directory as configured (used for logs and messages, never for lookups).
    let path: String
    /// An `O_PATH|O_DIRECTORY` descriptor of the root.
    let descriptor: Int32

    /// Opens the root directory; fails with a clear message when it is missing or not a directory.
    init(path: String) throws(FileAccessError) {
        self.path = path
        let flags = volleyOPath | O_DIRECTORY | O_CLOEXEC
        do {
            descriptor = try syscall("open") { open(path, flags) }
        } catch {
            switch error.errno {
            case ENOENT:
                throw FileAccessError(.notFound, logDetail: "root directory \(path) does not exist")
            case ENOTDIR:
                throw FileAccessError(.notARegularFile, logDetail: "root directory \(path) is not a directory")
            case EACCES, EPERM:
                throw FileAccessError(.accessDenied, logDetail: "root directory \(path): \(error)")
            default:
                throw FileAccessError(.other, logDetail: "root directory \(path): \(error)")
            }
        }
        try Self.requireConfinedLookups(descriptor, path: path)
    }

    /// Fails at start, with the reason, where `openat2` is missing (Linux before 5.6, or a
    /// sandbox that filters it): otherwise every request would fail later with ERROR 0.
    private static func requireConfinedLookups(_ root: Int32, path: String) throws(FileAccessError) {
        do {
            closeDescriptor(try openBeneath(root, ".", flags: O_RDONLY | O_DIRECTORY))
        } catch where error.errno == ENOSYS {
            closeDescriptor(root)
            throw FileAccessError(.other, logDetail: "root directory \(path): openat2 is not available on this kernel "
                + "(Linux 5.6 or later is needed to confine requests to it)")
        } catch {
            // Other failures (EACCES on an unreadable root, say) surface per request with their own message.
        }
    }

    /// Closes the root descriptor; the value must not be used afterwards.
    func close() {
        closeDescriptor(descriptor)
    }

    /// Opens a file for reading beneath the root and returns its descriptor and size.
    ///
    /// FIFOs, devices and directories are refused without blocking.
    func openForReading(_ requestedName: String) -> Result<OpenedFile, FileAccessError> {
        let relative: RelativePath
        switch RelativePath.parse(requestedName) {
        case .success(let parsed): relative = parsed
        case .failure(let error): return .failure(error)
        }
        let name = relative.description
        // O_NONBLOCK so that a FIFO cannot stall the reactor; cleared again for regular files.
        let fd: Int32
        do {
            fd = try openBeneath(descriptor, name, flags: O_RDONLY | O_NOCTTY | O_NONBLOCK)
        } catch {
            return .failure(Self.openFailure(error, name: name))
        }
        do {
            let status = try fileStatus(fd)
            guard isRegularFile(status) else {
                closeDescriptor(fd)
                return .failure(FileAccessError(.notARegularFile, logDetail: "\(name.debugDescription) is not a regular file"))
            }
            let flags = try syscall("fcntl(F_GETFL)") { volley_fcntl_getfl(fd) }
            _ = try syscall("fcntl(F_SETFL)") { volley_fcntl_setfl(fd, flags & ~O_NONBLOCK) }
            return .success(OpenedFile(descriptor: fd, size: UInt64(status.st_size)))
        } catch {
            closeDescriptor(fd)
            return .failure(FileAccessError(.other, logDetail: "\(name.debugDescription): \(error)"))
        }
    }

    /// Maps the errno of a failed confined open to the error the client sees.
    static func openFailure(_ error: SystemError, name: String) -> FileAccessError {
        let detail = "\(name.debugDescription): \(error)"
        return switch error.errno {
        case ENOENT, ENOTDIR: FileAccessError(.notFound, logDetail: detail)
        case EXDEV, ELOOP, EACCES, EPERM: FileAccessError(.accessDenied, logDetail: detail)
        case ENAMETOOLONG: FileAccessError(.invalidName, logDetail: detail)
        default: FileAccessError(.other, logDetail: detail)
        }
    }
}
