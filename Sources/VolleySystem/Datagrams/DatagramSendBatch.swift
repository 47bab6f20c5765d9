internal import CEpoll
import Glibc

/// Reusable sendmmsg(2) state: datagrams are queued, then sent with as few system calls as
/// the kernel allows.
///
/// Each queued message names its socket, its peer, optionally the local address it must
/// leave from (IP_PKTINFO/IPV6_PKTINFO, for wildcard-bound sockets) and optionally a UDP GSO
/// segment size, so one message can carry many equal-sized datagrams (`UDP_SEGMENT`).
/// A flush sends the messages of one socket with one `sendmmsg` (or `sendmsg`); messages of
/// many sockets (a socket per transfer) go out in one ``DatagramRing`` submission when the
/// batch has a ring, else with one call per run of a socket's messages.
/// Not thread-safe; one per reactor. Queued bytes must stay valid until ``flush()``.
public final class DatagramSendBatch {
    /// The most messages one flush sends.
    public let capacity: Int

    private static let addressSize = MemoryLayout<sockaddr_storage>.size
    private static let controlSize = 64
    /// The kernel's limit on segments in one GSO send (UDP_MAX_SEGMENTS on older kernels).
    public static let maximumSegmentsPerSend = 64
    /// The largest UDP payload one send may carry, GSO or not (IPv4).
    public static let maximumSendBytes = 65507

    private let messages: UnsafeMutablePointer<volley_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let addresses: UnsafeMutableRawPointer
    private let controls: UnsafeMutableRawPointer
    private let segmented: UnsafeMutablePointer<Bool>
    private let mapped: UnsafeMutablePointer<Bool>
    private let descriptors: UnsafeMutablePointer<Descriptor>
    /// Vectors of gathered messages (``enqueue(descriptor:to:from:gathering:segmentSize:fromFileMapping:fill:)``).
    private let gatherVectors: UnsafeMutablePointer<iovec>
    private var gatherUsed = 0
    /// Room for the gathered vectors queued between two flushes.
    public static let gatherCapacity = 2048
    private var queued = 0
    /// Whether the queued messages go through more than one socket.
    private var spansSockets = false
    /// Sends the messages of many sockets in one system call, when the kernel allows io_uring.
    private let ring: DatagramRing?

    /// Allocates headers for `capacity` messages; with `ring`, a flush of many sockets'
    /// messages is one submission (the ring must hold `capacity` operations).
    public init(capacity: Int = 256, ring: DatagramRing? = nil) {
        precondition(ring.map { $0.capacity >= capacity } ?? true, "a ring smaller than the batch")
        self.capacity = capacity
        self.ring = ring
        messages = .allocate(capacity: capacity)
        vectors = .allocate(capacity: capacity)
        addresses = .allocate(byteCount: capacity * Self.addressSize, alignment: 16)
        controls = .allocate(byteCount: capacity * Self.controlSize, alignment: 16)
        segmented = .allocate(capacity: capacity)
        mapped = .allocate(capacity: capacity)
        descriptors = .allocate(capacity: capacity)
        gatherVectors = .allocate(capacity: Self.gatherCapacity)
    }

    deinit {
        messages.deallocate()
        vectors.deallocate()
        addresses.deallocate()
        controls.deallocate()
        segmented.deallocate()
        mapped.deallocate()
        descriptors.deallocate()
        gatherVectors.deallocate()
    }

    /// The outcome of a flush.
    public struct Result: Sendable {
        /// Messages the kernel took.
        public var sent: Int
        /// Messages dropped because the socket buffer was full (timers cover them).
        public var wouldBlock: Int
        /// The first per-message error, if any message was refused (the rest were still tried).
        public var firstError: SystemError?
        /// True when a message with a GSO segment size was refused with EIO/EINVAL:
        /// the kernel or device cannot segment, so the caller should stop using GSO.
        public var segmentationUnsupported: Bool
    }

    /// How many messages are waiting for ``flush()``.
    public var pendingCount: Int { queued }

    /// Queues one message. Returns the flush result if queuing had to flush first (full),
    /// else nil.
    @discardableResult
    public func enqueue(
        descriptor: Descriptor, to peer: SocketAddress, from source: PacketInfo? = nil,
        bytes: UnsafeRawPointer, count: Int, segmentSize: Int? = nil
    ) -> Result? {
        let flushed = makeRoom(for: descriptor, vectors: 0)
        vectors[queued] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes), iov_len: count)
        append(
            descriptor: descriptor, to: peer, from: source, vectors: vectors + queued, vectorCount: 1,
            segmentSize: segmentSize, fromFileMapping: false)
        return flushed
    }

    /// Queues one message of `count` datagrams, each gathered from two places: datagram k
    /// is the `headerSize` bytes at `headers + k * headerSize` followed by the
    /// `payloadSize` bytes at `payloads + k * payloadSize`. With `segmentSize`
    /// (`headerSize + payloadSize`) the kernel cuts the message into the datagrams (GSO);
    /// without it, `count` must be 1. A message whose payloads lie in a ``FileMapping`` says
    /// so (`fromFileMapping`): if the file shrank, its send fails with `EFAULT`, which is then
    /// reported like any per-message error. Returns the flush result if queuing had to flush
    /// first, else nil.
    @discardableResult
    public func enqueue(
        descriptor: Descriptor, to peer: SocketAddress, from source: PacketInfo? = nil,
        headers: UnsafeRawPointer, headerSize: Int, payloads: UnsafeRawPointer, payloadSize: Int, count: Int,
        segmentSize: Int? = nil, fromFileMapping: Bool
    ) -> Result? {
        let partCount = 2 * count
        precondition(
            count > 0 && partCount <= Self.gatherCapacity && (count == 1 || segmentSize != nil),
            "a gathered message of \(count) datagrams")
        let flushed = makeRoom(for: descriptor, vectors: partCount)
        let parts = gatherVectors + gatherUsed
        for k in 0..<count {
            parts[2 * k] = iovec(iov_base: UnsafeMutableRawPointer(mutating: headers + k * headerSize), iov_len: headerSize)
            parts[2 * k + 1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: payloads + k * payloadSize), iov_len: payloadSize)
        }
        gatherUsed += partCount
        append(
            descriptor: descriptor, to: peer, from: source, vectors: parts, vectorCount: partCount,
            segmentSize: segmentSize, fromFileMapping: fromFileMapping)
        return flushed
    }

    /// Flushes when the next message does not fit.
    private func makeRoom(for descriptor: Descriptor, vectors needed: Int) -> Result? {
        guard queued == capacity || gatherUsed + needed > Self.gatherCapacity else { return nil }
        return flush()
    }

    private func append(
        descriptor: Descriptor, to peer: SocketAddress, from source: PacketInfo?,
        vectors messageVectors: UnsafeMutablePointer<iovec>, vectorCount: Int, segmentSize: Int?, fromFileMapping: Bool
    ) {
        let i = queued
        if i > 0, descriptors[i - 1] != descriptor { spansSockets = true }
        descriptors[i] = descriptor
        var header = msghdr()
        header.msg_name = addresses + i * Self.addressSize
        header.msg_namelen = peer.write(to: header.msg_name)
        header.msg_iov = messageVectors
        header.msg_iovlen = vectorCount
        let control = controls + i * Self.controlSize
        let controlLength = Self.writeControl(into: control, source: source, peerFamily: peer.family, segmentSize: segmentSize)
        header.msg_control = controlLength > 0 ? control : nil
        header.msg_controllen = controlLength
        messages[i] = volley_mmsghdr(msg_hdr: header, msg_len: 0)
        segmented[i] = segmentSize != nil
        mapped[i] = fromFileMapping
        queued += 1
    }

    /// Sends every queued message: one ring submission when they go through many sockets
    /// and the batch has a ring, else as few `sendmmsg` calls per socket as the kernel allows.
    /// Errors for one message (EMSGSIZE, EHOSTUNREACH, …) skip that message only.
    @discardableResult
    public func flush() -> Result {
        var result = Result(sent: 0, wouldBlock: 0, firstError: nil, segmentationUnsupported: false)
        if spansSockets, let ring, !ring.isBroken {
            flush(through: ring, into: &result)
        } else {
            var start = 0
            while start < queued {
                var end = start + 1
                while end < queued, descriptors[end] == descriptors[start] { end += 1 }
                flushRun(start..<end, into: &result)
                start = end
            }
        }
        queued = 0
        gatherUsed = 0
        spansSockets = false
        return result
    }

    /// Sends the messages of `run`, which all go through one socket.
    private func flushRun(_ run: Range<Int>, into result: inout Result) {
        var start = run.lowerBound
        while start < run.upperBound {
            let outcome: IOResult<Int32>
            do {
                outcome = try send(start..<run.upperBound)
            } catch {
                // The first message of the rest was refused: skip it, keep going.
                note(error, of: start, in: &result)
                start += 1
                continue
            }
            switch outcome {
            case .wouldBlock:
                result.wouldBlock += run.upperBound - start
                start = run.upperBound
            case .done(let n):
                result.sent += Int(n)
                start += Int(n)
            }
        }
    }

    /// Counts a refused message: the first error is kept, and a refused GSO message says
    /// the kernel or device cannot segment.
    private func note(_ error: SystemError, of index: Int, in result: inout Result) {
        if result.firstError == nil { result.firstError = error }
        if error.errno == .ioError || error.errno == .invalidArgument, segmented[index] {
            result.segmentationUnsupported = true
        }
    }

    /// One system call for the messages of `run` (one socket's): `sendmsg` for a lone
    /// message (a lockstep block, the common case on a transfer's own socket), which skips
    /// `sendmmsg`'s per-call array handling, else `sendmmsg`.
    private func send(_ run: Range<Int>) throws(SystemError) -> IOResult<Int32> {
        // The kernel reports an error only for the first message it tried.
        let start = run.lowerBound
        let descriptor = descriptors[start]
        let fromFileMapping = mapped[start]
        guard run.count == 1 else {
            return try nonBlockingSyscall("sendmmsg", allowingBadAddress: fromFileMapping) {
                volley_sendmmsg(descriptor.rawValue, messages + start, UInt32(run.count), 0)
            }
        }
        let header = (messages + start).pointer(to: \.msg_hdr)!
        switch try nonBlockingSyscall("sendmsg", allowingBadAddress: fromFileMapping, { Glibc.sendmsg(descriptor.rawValue, header, 0) }) {
        case .wouldBlock: return .wouldBlock
        case .done: return .done(1)
        }
    }

    /// Sends every queued message, whatever its socket, in one ring submission.
    private func flush(through ring: DatagramRing, into result: inout Result) {
        for i in 0..<queued {
            ring.queue(receive: false, descriptor: descriptors[i], message: (messages + i).pointer(to: \.msg_hdr)!, index: i)
        }
        let mapped = mapped
        ring.submit(allowingBadAddress: { mapped[$0] }) { index, completion in
            switch completion {
            case .done: result.sent += 1
            case .wouldBlock: result.wouldBlock += 1
            case .failed(let code): note(SystemError("sendmsg (io_uring)", errno: code), of: index, in: &result)
            }
        }
    }

    /// Sends `count` datagrams to `peer` at once: datagram i is `lengths[i]` bytes at `base + i * stride`.
    public func send(
        descriptor: Descriptor, to peer: SocketAddress,
        base: UnsafeRawPointer, stride: Int, lengths: UnsafePointer<Int>, count: Int
    ) -> Result {
        var total = Result(sent: 0, wouldBlock: 0, firstError: nil, segmentationUnsupported: false)
        for i in 0..<count {
            if let early = enqueue(descriptor: descriptor, to: peer, bytes: base + i * stride, count: lengths[i]) {
                total.merge(early)
            }
        }
        total.merge(flush())
        return total
    }

    /// Sends one datagram now, from `source`'s address when given. Anything queued goes
    /// first, in the same flush, so the result covers both (a GSO refusal among the queued
    /// messages is reported, not lost).
    @discardableResult
    public func sendOne(
        descriptor: Descriptor, bytes: UnsafeRawBufferPointer, to peer: SocketAddress, from source: PacketInfo? = nil
    ) -> Result {
        var total = Result(sent: 0, wouldBlock: 0, firstError: nil, segmentationUnsupported: false)
        if let early = enqueue(descriptor: descriptor, to: peer, from: source, bytes: bytes.baseAddress!, count: bytes.count) {
            total.merge(early)
        }
        total.merge(flush())
        return total
    }

    /// Writes the control messages (source address, GSO segment size) and returns their length.
    private static func writeControl(
        into control: UnsafeMutableRawPointer, source: PacketInfo?, peerFamily: AddressFamily, segmentSize: Int?
    ) -> Int {
        guard source != nil || segmentSize != nil else { return 0 }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: controlSize)
        var header = msghdr()
        header.msg_control = control
        header.msg_controllen = controlSize
        var used = 0
        var cmsg = volley_cmsg_firsthdr(&header)
        if let source, let current = cmsg {
            switch source.localAddress {
            case .v4(let local) where peerFamily == .ipv4:
                current.pointee.cmsg_level = VOLLEY_IPPROTO_IP
                current.pointee.cmsg_type = IP_PKTINFO
                current.pointee.cmsg_len = volley_cmsg_len(MemoryLayout<in_pktinfo>.size)
                var info = in_pktinfo()
                info.ipi_spec_dst = local.sin_addr
                UnsafeMutableRawPointer(volley_cmsg_data(current)!).storeBytes(of: info, as: in_pktinfo.self)
                used += volley_cmsg_space(MemoryLayout<in_pktinfo>.size)
            case .v6(let local) where peerFamily == .ipv6:
                current.pointee.cmsg_level = VOLLEY_IPPROTO_IPV6
                current.pointee.cmsg_type = IPV6_PKTINFO
                current.pointee.cmsg_len = volley_cmsg_len(MemoryLayout<volley_in6_pktinfo>.size)
                var info = volley_in6_pktinfo()
                info.ipi6_addr = local.sin6_addr
                UnsafeMutableRawPointer(volley_cmsg_data(current)!).storeBytes(of: info, as: volley_in6_pktinfo.self)
                used += volley_cmsg_space(MemoryLayout<volley_in6_pktinfo>.size)
            default:
                break
            }
            if used > 0 {
                header.msg_controllen = used + volley_cmsg_space(2)
                cmsg = volley_cmsg_nxthdr(&header, current)
            }
        }
        if let segmentSize, let current = cmsg {
            current.pointee.cmsg_level = VOLLEY_SOL_UDP
            current.pointee.cmsg_type = VOLLEY_UDP_SEGMENT
            current.pointee.cmsg_len = volley_cmsg_len(2)
            UnsafeMutableRawPointer(volley_cmsg_data(current)!).storeBytes(of: UInt16(segmentSize), as: UInt16.self)
            used += volley_cmsg_space(2)
        }
        return used
    }
}

extension DatagramSendBatch.Result {
    /// Adds another flush's figures to these; the first error seen is kept.
    public mutating func merge(_ other: Self) {
        sent += other.sent
        wouldBlock += other.wouldBlock
        if firstError == nil { firstError = other.firstError }
        segmentationUnsupported = segmentationUnsupported || other.segmentationUnsupported
    }
}

@available(*, unavailable)
extension DatagramSendBatch: Sendable {}
