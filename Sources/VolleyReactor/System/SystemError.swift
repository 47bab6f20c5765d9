import Glibc

/// A failed system call: its name and the errno it returned.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name of the call that failed, e.g. `"recvmmsg"`.
    public var call: String
    /// The errno value the call left.
    public var errno: Int32

    /// Creates an error for `call` failing with `errno`.
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// `"recvmmsg: Bad file descriptor (errno 9)"`.
    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
