import Glibc
import SystemPackage

/// A failed system call: its name and the errno it returned.
///
/// `errno` is swift-system's `Errno`, so callers match named cases
/// (`.noSuchFileOrDirectory`, `.tooManyOpenFiles`) instead of raw numbers.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name of the call that failed, e.g. `"recvmmsg"`.
    public var call: String
    /// The errno value the call left.
    public var errno: Errno

    /// Creates an error for `call` failing with `errno`.
    public init(_ call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    /// The errno's text alone: `"No such file or directory (errno 2)"`.
    public var reason: String {
        "\(String(cString: strerror(errno.rawValue))) (errno \(errno.rawValue))"
    }

    /// `"recvmmsg: Bad file descriptor (errno 9)"`.
    public var description: String {
        "\(call): \(reason)"
    }
}
