import Glibc
import SystemPackage

/// The result of a non-blocking call that may have nothing to do.
public enum IOResult<Value> {
    case done(Value)
    case wouldBlock
}

/// Runs a system call that returns -1 and sets errno on failure.
///
/// Retries on `EINTR`, throws ``SystemError`` otherwise, and stops the process on
/// errnos that can only mean a bug in Volley (`EBADF`, `EFAULT`).
@inline(__always)
func syscall<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Errno(rawValue: Glibc.errno)
        if code == .interrupted { continue }
        trapOnProgrammingError(code, name())
        throw SystemError(name(), errno: code)
    }
}

/// Like ``syscall(_:_:)`` but turns `EAGAIN`/`EWOULDBLOCK` into ``IOResult/wouldBlock``.
///
/// `allowingBadAddress`: the call reads a ``FileMapping``, where `EFAULT` means the file
/// shrank under the mapping (an error to report), not a bad pointer.
@inline(__always)
func nonBlockingSyscall<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    allowingBadAddress: Bool = false,
    _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .done(result) }
        let code = Errno(rawValue: Glibc.errno)
        if code == .interrupted { continue }
        if code == .resourceTemporarilyUnavailable || code == .wouldBlock { return .wouldBlock }
        if !(allowingBadAddress && code == .badAddress) { trapOnProgrammingError(code, name()) }
        throw SystemError(name(), errno: code)
    }
}

/// `EBADF` and `EFAULT` mean Volley passed a descriptor it does not own or a bad pointer:
/// going on could read or write someone else's file or socket.
@inline(__always)
func trapOnProgrammingError(_ code: Errno, _ name: @autoclosure () -> String) {
    precondition(
        code != .badFileDescriptor && code != .badAddress,
        "\(name()) failed with \(SystemError(name(), errno: code)): a bug in Volley")
}
