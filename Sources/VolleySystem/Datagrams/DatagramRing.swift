internal import CEpoll
import Glibc
import SystemPackage

/// An io_uring (through liburing) that sends and receives the datagrams of many sockets
/// in one system call: ``DatagramSendBatch`` and ``DatagramReceiveBatch`` queue one
/// `sendmsg`/`recvmsg` per message and ``submit(_:)`` hands them all to the kernel at once.
///
/// Every operation is non-blocking (`MSG_DONTWAIT`), so each has completed when
/// ``submit(_:)`` returns: nothing the kernel reads or writes outlives the call.
/// Not thread-safe; one per reactor, created on the reactor thread (the ring is set up
/// for a single issuer).
public final class DatagramRing {
    /// The most operations one submission carries.
    public let capacity: Int
    private let ring: UnsafeMutablePointer<io_uring>
    /// Counts submissions, so that a completion left from an earlier one could never be
    /// taken for one of this one (none is expected: each submission reaps all of its own).
    private var generation: UInt64 = 0
    private var queued = 0
    /// Set when a submission could not hand every operation to the kernel (it ran out of
    /// memory for requests): the ones left in the queue would run at the next submission,
    /// on buffers long reused, so the ring is never entered again and its users go back to
    /// a system call per socket.
    public private(set) var isBroken = false
    /// For tests: the kernel takes at most this many operations of a submission, as one short
    /// of memory for requests does (the seam for the ``isBroken`` path; nil in production).
    var submissionLimitForTesting: Int?

    /// Sets up a ring of `capacity` entries.
    ///
    /// - Throws: ``SystemError`` with `EPERM` where `kernel.io_uring_disabled` or a seccomp
    ///   filter (containers) forbids io_uring, `ENOSYS` where the kernel has none.
    public init(capacity: Int = 256) throws(SystemError) {
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        let result = volley_ring_init(ring, UInt32(capacity))
        guard result == 0 else {
            // Thrown before any stored property is set, so deinit does not run on it.
            ring.deallocate()
            throw SystemError("io_uring_setup", errno: Errno(rawValue: -result))
        }
        self.ring = ring
        self.capacity = capacity
    }

    deinit {
        volley_ring_exit(ring)
        ring.deallocate()
    }

    /// What one queued operation did, in the order queued.
    public enum Completion {
        /// It moved this many bytes.
        case done(Int)
        /// The socket buffer was full (a send) or nothing was waiting (a receive).
        case wouldBlock
        /// It failed with this errno.
        case failed(Errno)
    }

    /// Queues a `sendmsg` (or, with `receive`, a `recvmsg`) of `message` on `descriptor`;
    /// `index` comes back with its completion. The message and what it points to must
    /// stay valid until ``submit(_:)`` returns.
    func queue(receive: Bool, descriptor: Descriptor, message: UnsafeMutablePointer<msghdr>, index: Int) {
        precondition(queued < capacity, "more operations than the ring holds")
        let tag = generation << 32 | UInt64(index)
        // The ring has `capacity` slots and every submission empties it, so this cannot fail.
        let result = volley_ring_queue_message(ring, receive ? 1 : 0, descriptor.rawValue, message, tag)
        precondition(result == 0, "io_uring submission queue full")
        queued += 1
    }

    /// Submits what was queued and waits until every operation completed, then calls
    /// `completed` with each one's queue index and outcome (in completion order).
    /// Operations the kernel could not take (see ``isBroken``) complete as ``Completion/wouldBlock``:
    /// not sent, not received.
    ///
    /// `EBADF` and `EFAULT` trap, as in every other call of this layer, unless
    /// `allowingBadAddress(index)` says the operation's payload lies in a file mapping.
    func submit(allowingBadAddress: (Int) -> Bool = { _ in false }, _ completed: (Int, Completion) -> Void) {
        precondition(!isBroken, "a broken ring was used")
        let count = queued
        guard count > 0 else { return }
        queued = 0
        let current = generation
        generation &+= 1
        // One io_uring_enter submits all and, since none can block, finds all completed. A
        // signal may interrupt the wait part: the waits below then collect the rest.
        if let limit = submissionLimitForTesting, limit < count {
            _ = volley_ring_submit_at_most(ring, UInt32(limit))
        } else {
            _ = volley_ring_submit_and_wait(ring, UInt32(count))
        }
        let notTaken = Int(volley_ring_not_taken(ring))
        if notTaken > 0 {
            // The kernel takes operations in order: the last ones stayed behind.
            isBroken = true
            for index in (count - notTaken)..<count { completed(index, .wouldBlock) }
        }
        let taken = count - notTaken
        var reaped = 0
        var tag: UInt64 = 0
        var result: Int32 = 0
        while reaped < taken {
            var status = volley_ring_next_completion(ring, 0, &tag, &result)
            if status == 0 { status = volley_ring_next_completion(ring, 1, &tag, &result) }
            guard status == 1 else { continue }  // EINTR (or EAGAIN): wait again
            guard tag >> 32 == current & 0xFFFF_FFFF else { continue }
            reaped += 1
            let index = Int(tag & 0xFFFF_FFFF)
            if result >= 0 {
                completed(index, .done(Int(result)))
                continue
            }
            let code = Errno(rawValue: -result)
            if code == .resourceTemporarilyUnavailable || code == .wouldBlock {
                completed(index, .wouldBlock)
                continue
            }
            if !(code == .badAddress && allowingBadAddress(index)) {
                trapOnProgrammingError(code, "io_uring \(code)")
            }
            completed(index, .failed(code))
        }
    }
}

@available(*, unavailable)
extension DatagramRing: Sendable {}
