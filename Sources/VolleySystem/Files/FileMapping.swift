internal import CEpoll
import Glibc
import SystemPackage

/// A read-only shared mapping of a file's pages, unmapped when the last user lets go.
///
/// It lets `sendmsg` copy file bytes straight from the page cache into the socket buffer:
/// one copy per byte instead of two through `preadv` and a buffer, and no read call.
/// Only ever hand its addresses to the kernel, never read them in Swift: if the file is
/// truncated, touching a page past its new end from user space raises SIGBUS, while the
/// kernel's own copy just fails that call with `EFAULT`.
public final class FileMapping: @unchecked Sendable {
    // @unchecked: both properties are immutable after init, and the memory is only read by the kernel.
    /// The first mapped byte (file offset 0).
    public let base: UnsafeRawPointer
    /// The mapped length: the file's size when mapped.
    public let length: Int

    /// Maps the first `length` bytes of `descriptor` (opened for reading).
    /// - Throws: ``SystemError`` from `mmap`, e.g. `ENODEV` for a file system that cannot map
    ///   files, `ENOMEM` when the address space is exhausted.
    public init(descriptor: Descriptor, length: Int) throws(SystemError) {
        precondition(length > 0, "an empty file has nothing to map")
        guard let address = volley_map_file_read_only(descriptor.rawValue, length) else {
            throw SystemError("mmap", errno: Errno(rawValue: Glibc.errno))
        }
        base = UnsafeRawPointer(address)
        self.length = length
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }
}
