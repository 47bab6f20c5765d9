import Glibc
import SystemPackage

/// A file descriptor with exactly one owner, closed when the owner is done with it.
///
/// Non-copyable: it can be moved, borrowed or consumed, never duplicated, so a descriptor
/// is closed exactly once. Others use it through the borrowed ``descriptor``; share one
/// between several users by putting it in a class (``DatagramSocket``) rather than
/// copying the number.
public struct OwnedDescriptor: ~Copyable, Sendable {
    /// The descriptor, borrowed: valid while this value lives, never to be closed by the borrower.
    public let descriptor: Descriptor

    /// Takes ownership of `descriptor` (from `socket`, `open`, systemd, …).
    public init(adopting descriptor: Descriptor) {
        self.descriptor = descriptor
    }

    /// Takes ownership of the number a system call returned.
    init(adopting number: CInt) {
        self.init(adopting: Descriptor(rawValue: number))
    }

    /// A new descriptor (close-on-exec) for the same open file as `descriptor`, which stays open:
    /// lets a server stop and start again on a socket systemd passed, without losing it.
    public static func duplicating(_ descriptor: Descriptor) throws(SystemError) -> OwnedDescriptor {
        OwnedDescriptor(adopting: try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// Closes the descriptor now.
    ///
    /// `EINTR` counts as closed (on Linux the descriptor is gone either way, and retrying
    /// could close a number another thread just got); `EBADF` is a bug and traps.
    /// - Throws: ``SystemError`` for `EIO` and other errors the kernel reports on close.
    public consuming func close() throws(SystemError) {
        let descriptor = descriptor
        discard self
        try Self.close(reporting: descriptor)
    }

    /// Gives up ownership without closing; the caller now owns the descriptor.
    public consuming func release() -> Descriptor {
        let descriptor = descriptor
        discard self
        return descriptor
    }

    deinit {
        try? Self.close(reporting: descriptor)
    }

    private static func close(reporting descriptor: Descriptor) throws(SystemError) {
        guard Glibc.close(descriptor.rawValue) == -1 else { return }
        let code = Errno(rawValue: Glibc.errno)
        if code == .interrupted { return }
        trapOnProgrammingError(code, "close(\(descriptor))")
        throw SystemError("close", errno: code)
    }
}

extension OwnedDescriptor {
    /// Closes a descriptor kept by the one record that owns it (arrays cannot hold
    /// non-copyable values yet), with the same rules as ``close()``.
    public static func close(_ descriptor: Descriptor) {
        try? OwnedDescriptor(adopting: descriptor).close()
    }
}
