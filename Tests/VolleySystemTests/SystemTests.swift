import CEpoll
import Glibc
import SystemPackage
import Testing
@testable import VolleySystem
import VolleySystemTestSupport

@Suite("System calls, sockets and limits")
struct SystemTests {
    @Test func bindToAnAddressInUseThrowsWithCallAndErrno() throws {
        let (first, address) = try Net.bound(Net.v4())
        defer { closeDescriptor(first) }
        let second = try UDPSocket.open(family: .ipv4).release()
        defer { closeDescriptor(second) }
        let error = #expect(throws: SystemError.self) { try UDPSocket.bind(second, to: address) }
        #expect(error?.errno.rawValue == EADDRINUSE)
        #expect(error?.call == "bind(\(address))")
        #expect(error?.description == "bind(\(address)): Address already in use (errno \(EADDRINUSE))")
        // openBound reports the same failure.
        let again = #expect(throws: SystemError.self) { try UDPSocket.openBound(to: address) }
        #expect(again?.errno.rawValue == EADDRINUSE)
    }

    @Test func systemErrorDescriptionAndEquality() {
        let error = SystemError("recvmmsg", errno: Errno(rawValue: EBADF))
        #expect(error.description == "recvmmsg: Bad file descriptor (errno 9)")
        #expect("\(error)" == error.description)
        #expect(error == SystemError("recvmmsg", errno: Errno(rawValue: EBADF)))
        #expect(error != SystemError("recvmmsg", errno: Errno(rawValue: EINVAL)))
        #expect(error != SystemError("sendmmsg", errno: Errno(rawValue: EBADF)))
    }

    @Test func syscallRetriesOnEINTRAndReturnsTheResult() throws {
        var attempts = 0
        let result = try VolleySystem.syscall("fake") { () -> Int32 in
            attempts += 1
            if attempts < 3 {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == 42)
        #expect(attempts == 3)
    }

    @Test func syscallThrowsOtherErrnosWithTheName() {
        var attempts = 0
        let error = #expect(throws: SystemError.self) {
            try VolleySystem.syscall("open(/nonexistent)") { () -> Int32 in
                attempts += 1
                errno = ENOENT
                return -1
            }
        }
        #expect(attempts == 1)
        #expect(error == SystemError("open(/nonexistent)", errno: Errno(rawValue: ENOENT)))
        // The blocking wrapper does not hide EAGAIN.
        let again = #expect(throws: SystemError.self) {
            try VolleySystem.syscall("x") { () -> Int in
                errno = EAGAIN
                return -1
            }
        }
        #expect(again?.errno.rawValue == EAGAIN)
    }

    @Test func syscallNameIsOnlyBuiltOnFailure() throws {
        var built = 0
        func name() -> String {
            built += 1
            return "expensive"
        }
        _ = try VolleySystem.syscall(name()) { () -> Int32 in 0 }
        _ = try VolleySystem.nonBlockingSyscall(name()) { () -> Int32 in 5 }
        #expect(built == 0)
    }

    @Test func nonBlockingSyscallTurnsEAGAINIntoWouldBlock() throws {
        var attempts = 0
        let outcome = try VolleySystem.nonBlockingSyscall("fake") { () -> Int in
            attempts += 1
            if attempts == 1 { errno = EINTR } else { errno = EWOULDBLOCK }
            return -1
        }
        guard case .wouldBlock = outcome else {
            Issue.record("expected wouldBlock, got \(outcome)")
            return
        }
        #expect(attempts == 2)
        guard case .done(let value) = try VolleySystem.nonBlockingSyscall("fake", { () -> Int in 0 }) else {
            Issue.record("expected done")
            return
        }
        #expect(value == 0, "0 is a result, not an error")
        let error = #expect(throws: SystemError.self) {
            try VolleySystem.nonBlockingSyscall("fake") { () -> Int in
                errno = ECONNREFUSED
                return -1
            }
        }
        #expect(error?.errno.rawValue == ECONNREFUSED)
    }

    @Test func nonBlockingSyscallOnARealEmptySocket() throws {
        let (fd, _) = try Net.bound(Net.v4())
        defer { closeDescriptor(fd) }
        var byte: UInt8 = 0
        let outcome = try VolleySystem.nonBlockingSyscall("recv") { recv(fd.rawValue, &byte, 1, 0) }
        guard case .wouldBlock = outcome else {
            Issue.record("expected wouldBlock, got \(outcome)")
            return
        }
    }

    @Test func makeNonBlockingAndCloseOnExecOnABlockingSocket() throws {
        let fd = Descriptor(rawValue: socket(AF_INET, VOLLEY_SOCK_DGRAM, 0))
        try #require(fd.rawValue >= 0)
        defer { closeDescriptor(fd) }
        #expect(volley_fcntl_getfl(fd.rawValue) & O_NONBLOCK == 0)
        #expect(volley_fcntl_getfd(fd.rawValue) & FD_CLOEXEC == 0)
        let statusBefore = volley_fcntl_getfl(fd.rawValue)
        try UDPSocket.makeNonBlockingAndCloseOnExec(fd)
        #expect(volley_fcntl_getfl(fd.rawValue) & O_NONBLOCK != 0)
        #expect(volley_fcntl_getfd(fd.rawValue) & FD_CLOEXEC != 0)
        #expect(volley_fcntl_getfl(fd.rawValue) & ~O_NONBLOCK == statusBefore & ~O_NONBLOCK, "other status flags kept")
        // Idempotent.
        try UDPSocket.makeNonBlockingAndCloseOnExec(fd)
        #expect(volley_fcntl_getfl(fd.rawValue) & O_NONBLOCK != 0)
        // Really non-blocking now.
        try UDPSocket.bind(fd, to: Net.v4())
        var byte: UInt8 = 0
        #expect(recv(fd.rawValue, &byte, 1, 0) == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    @Test func anOwnedDescriptorIsClosedWhenItsOwnerEnds() throws {
        let number: Descriptor
        do {
            let socket = try UDPSocket.open(family: .ipv4)
            number = socket.descriptor
            #expect(fcntl(number.rawValue, F_GETFD) >= 0)
        }
        #expect(fcntl(number.rawValue, F_GETFD) == -1 && errno == EBADF, "closed at the end of its scope")
        let other = try UDPSocket.open(family: .ipv4)
        let released = other.release()
        #expect(fcntl(released.rawValue, F_GETFD) >= 0, "release gives up ownership without closing")
        try OwnedDescriptor(adopting: released).close()
        #expect(fcntl(released.rawValue, F_GETFD) == -1 && errno == EBADF)
    }

    @Test func aSharedDatagramSocketStaysOpenWhileAnyUserHoldsIt() throws {
        var listener: DatagramSocket? = try DatagramSocket.bound(to: Net.v4())
        let transferHoldsIt = listener
        let number = listener!.descriptor
        listener = nil
        #expect(fcntl(number.rawValue, F_GETFD) >= 0, "still open: a transfer holds it")
        #expect(transferHoldsIt?.localAddress.port != 0)
        _ = consume transferHoldsIt
        #expect(fcntl(number.rawValue, F_GETFD) == -1, "closed with its last user")
    }

    @Test func openedSocketsAreNonBlockingAndCloseOnExec() throws {
        for family in [AddressFamily.ipv4, .ipv6] {
            let fd = try UDPSocket.open(family: family).release()
            defer { closeDescriptor(fd) }
            #expect(volley_fcntl_getfl(fd.rawValue) & O_NONBLOCK != 0)
            #expect(volley_fcntl_getfd(fd.rawValue) & FD_CLOEXEC != 0)
            #expect(try UDPSocket.family(of: fd) == family)
        }
    }

    @Test func openBoundSetsV6OnlyExceptForTheWildcard() throws {
        func v6Only(_ fd: Descriptor) -> Int32 {
            var value: Int32 = -1
            var length = socklen_t(4)
            #expect(getsockopt(fd.rawValue, VOLLEY_IPPROTO_IPV6, IPV6_V6ONLY, &value, &length) == 0)
            return value
        }
        let (loopback, loopbackAddress) = try Net.bound(Net.v6())
        defer { closeDescriptor(loopback) }
        #expect(v6Only(loopback) == 1)
        #expect(loopbackAddress.ipString == "::1")
        #expect(loopbackAddress.port != 0)
        let (any, anyAddress) = try Net.bound(Net.v6("::"))
        defer { closeDescriptor(any) }
        #expect(v6Only(any) == 0)
        #expect(anyAddress.isWildcard)
    }

    @Test func bufferSizesAreApplied() throws {
        let fd = try UDPSocket.open(family: .ipv4).release()
        defer { closeDescriptor(fd) }
        try UDPSocket.setReceiveBufferSize(fd, bytes: 256 * 1024)
        try UDPSocket.setSendBufferSize(fd, bytes: 128 * 1024)
        var value: Int32 = 0
        var length = socklen_t(4)
        #expect(getsockopt(fd.rawValue, SOL_SOCKET, SO_RCVBUF, &value, &length) == 0)
        #expect(value >= 256 * 1024 || value >= 2 * 4096, "kernel may cap it at rmem_max")
        #expect(getsockopt(fd.rawValue, SOL_SOCKET, SO_SNDBUF, &value, &length) == 0)
        #expect(value > 0)
    }

    @Test func raiseOpenFilesLimitReturnsTheHardLimit() {
        let raised = ResourceLimits.raiseOpenFilesLimit()
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(limit.rlim_cur == limit.rlim_max || limit.rlim_max == rlim_t.max)
        if limit.rlim_max != rlim_t.max {
            #expect(raised == UInt64(limit.rlim_max))
        }
        #expect(raised == UInt64(limit.rlim_cur))
        // Calling it again changes nothing.
        #expect(ResourceLimits.raiseOpenFilesLimit() == raised)
    }

    @Test func monotonicClockDoesNotGoBackwards() {
        var previous = MonotonicClock.milliseconds()
        for _ in 0..<1000 {
            let now = MonotonicClock.milliseconds()
            #expect(now >= previous)
            previous = now
        }
        let before = MonotonicClock.milliseconds()
        usleep(20_000)
        let after = MonotonicClock.milliseconds()
        #expect(after - before >= 19 && after - before < 5_000)
    }
}
