import Glibc

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
public func syscall<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        precondition(code != EBADF && code != EFAULT, "\(name()) failed with \(SystemError(name(), errno: code)): a bug in Volley")
        throw SystemError(name(), errno: code)
    }
}

/// Like ``syscall(_:_:)`` but turns `EAGAIN`/`EWOULDBLOCK` into ``IOResult/wouldBlock``.
@inline(__always)
public func nonBlockingSyscall<T: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .done(result) }
        let code = errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        precondition(code != EBADF && code != EFAULT, "\(name()) failed with \(SystemError(name(), errno: code)): a bug in Volley")
        throw SystemError(name(), errno: code)
    }
}

/// Closes a descriptor once; `EINTR` is not retried (the descriptor is gone either way on Linux).
public func closeDescriptor(_ fd: Int32) {
    _ = Glibc.close(fd)
}
