import Glibc
import SystemPackage

/// A file descriptor with exactly one owner, closed when the owner is done with it.
///
/// Non-copyable: it can be moved, borrowed or consumed, never duplicated, so a descriptor
/// is closed exactly once. Share one between several users by putting it in a class
/// (``DatagramSocket``) rather than copying the number.
public struct OwnedDescriptor: ~Copyable, Sendable {
    /// The descriptor number, valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue` (from `socket`, `open`, systemd, …).
    public init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// A new descriptor (close-on-exec) for the same open file as `rawValue`, which stays open:
    /// lets a server stop and start again on a socket systemd passed, without losing it.
    public static func duplicating(_ rawValue: Int32) throws(SystemError) -> OwnedDescriptor {
        OwnedDescriptor(adopting: try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// Closes the descriptor now.
    ///
    /// `EINTR` counts as closed (on Linux the descriptor is gone either way, and retrying
    /// could close a number another thread just got); `EBADF` is a bug and traps.
    /// - Throws: ``SystemError`` for `EIO` and other errors the kernel reports on close.
    public consuming func close() throws(SystemError) {
        let number = rawValue
        discard self
        try Self.close(number)
    }

    /// Gives up ownership without closing; the caller now owns the number.
    public consuming func release() -> Int32 {
        let number = rawValue
        discard self
        return number
    }

    deinit {
        try? Self.close(rawValue)
    }

    private static func close(_ number: Int32) throws(SystemError) {
        guard Glibc.close(number) == -1 else { return }
        let code = Errno(rawValue: Glibc.errno)
        if code == .interrupted { return }
        trapOnProgrammingError(code, "close(\(number))")
        throw SystemError("close", errno: code)
    }
}

extension OwnedDescriptor {
    /// Closes a descriptor kept as a raw number by the one record that owns it (arrays
    /// cannot hold non-copyable values yet), with the same rules as ``close()``.
    public static func close(rawValue: Int32) {
        try? OwnedDescriptor(adopting: rawValue).close()
    }
}
