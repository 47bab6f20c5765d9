internal import CEpoll
import Glibc

/// Reusable recvmmsg(2) state: message headers, buffers, peer addresses and
/// packet-info control space, wired once and reused for every receive: many datagrams
/// from one socket, or (through a ``DatagramRing``) one from each of many sockets.
///
/// Not thread-safe; one per reactor. Results are valid until the next receive.
public final class DatagramReceiveBatch {
    /// How many datagrams one receive can return.
    public let capacity: Int
    /// The largest datagram kept whole; longer ones are flagged ``isTruncated(_:)``.
    public let bufferSize: Int

    private static let addressSize = MemoryLayout<sockaddr_storage>.size
    private static let controlSize = 128

    private let messages: UnsafeMutablePointer<volley_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let buffers: UnsafeMutableRawPointer
    private let addresses: UnsafeMutableRawPointer
    private let controls: UnsafeMutableRawPointer
    /// Which slots the last receive filled (a ring receive may leave gaps).
    private let filled: UnsafeMutablePointer<Bool>
    /// The slots the last receive used.
    private var received = 0

    /// Allocates room for `capacity` datagrams of up to `bufferSize` bytes.
    public init(capacity: Int = 64, bufferSize: Int = 2048) {
        self.capacity = capacity
        self.bufferSize = bufferSize
        messages = .allocate(capacity: capacity)
        vectors = .allocate(capacity: capacity)
        buffers = .allocate(byteCount: capacity * bufferSize, alignment: 16)
        addresses = .allocate(byteCount: capacity * Self.addressSize, alignment: 16)
        controls = .allocate(byteCount: capacity * Self.controlSize, alignment: 16)
        filled = .allocate(capacity: capacity)
        filled.initialize(repeating: false, count: capacity)
        for i in 0..<capacity {
            vectors[i] = iovec(iov_base: buffers + i * bufferSize, iov_len: bufferSize)
            var header = msghdr()
            header.msg_name = addresses + i * Self.addressSize
            header.msg_iov = vectors + i
            header.msg_iovlen = 1
            header.msg_control = controls + i * Self.controlSize
            messages[i] = volley_mmsghdr(msg_hdr: header, msg_len: 0)
        }
    }

    deinit {
        messages.deallocate()
        vectors.deallocate()
        buffers.deallocate()
        addresses.deallocate()
        controls.deallocate()
        filled.deallocate()
    }

    /// Receives up to ``capacity`` waiting datagrams from `descriptor` without blocking.
    /// Returns how many arrived (0 when none were waiting).
    public func receive(from descriptor: Descriptor, maximum: Int? = nil) throws(SystemError) -> Int {
        let count = min(maximum ?? capacity, capacity)
        prepare(count)
        if count == 1 {
            // One datagram (a transfer's own socket): recvmsg skips recvmmsg's per-call overhead.
            switch try nonBlockingSyscall("recvmsg", { recvmsg(descriptor.rawValue, &messages[0].msg_hdr, VOLLEY_MSG_DONTWAIT) }) {
            case .wouldBlock: return 0
            case .done(let length):
                messages[0].msg_len = UInt32(length)
                return markFilled(1)
            }
        }
        switch try nonBlockingSyscall(
            "recvmmsg", { volley_recvmmsg(descriptor.rawValue, messages, UInt32(count), VOLLEY_MSG_DONTWAIT, nil) })
        {
        case .wouldBlock: return 0
        case .done(let n): return markFilled(Int(n))
        }
    }

    /// Receives at most one waiting datagram from each of `descriptors` (at most
    /// ``capacity``) in one ring submission: slot i is `descriptors[i]`'s, empty
    /// (``payload(_:)`` and ``source(_:)`` say so) when nothing was waiting there or the
    /// receive failed. Returns the first failure, if any, after filling what it could.
    @discardableResult
    public func receiveOne(fromEach descriptors: UnsafeBufferPointer<Descriptor>, through ring: DatagramRing) -> SystemError? {
        let count = descriptors.count
        precondition(count <= capacity, "more sockets than slots")
        prepare(count)
        for i in 0..<count {
            ring.queue(receive: true, descriptor: descriptors[i], message: (messages + i).pointer(to: \.msg_hdr)!, index: i)
        }
        received = count
        var failure: SystemError?
        ring.submit { [messages, filled] index, completion in
            switch completion {
            case .done(let length):
                messages[index].msg_len = UInt32(length)
                filled[index] = true
            case .wouldBlock:
                break
            case .failed(let code):
                if failure == nil { failure = SystemError("recvmsg (io_uring)", errno: code) }
            }
        }
        return failure
    }

    /// Resets the first `count` slots for a receive.
    private func prepare(_ count: Int) {
        for i in 0..<count {
            messages[i].msg_hdr.msg_namelen = socklen_t(Self.addressSize)
            messages[i].msg_hdr.msg_controllen = Self.controlSize
            messages[i].msg_hdr.msg_flags = 0
            messages[i].msg_len = 0
            filled[i] = false
        }
        received = 0
    }

    /// Marks the first `count` slots as filled (a receive from one socket fills in order).
    private func markFilled(_ count: Int) -> Int {
        for i in 0..<count { filled[i] = true }
        received = count
        return count
    }

    /// The slots the last receive used: ``receive(from:maximum:)`` fills them all, a
    /// ring receive may leave some empty.
    public var count: Int { received }

    /// Whether `index` names a datagram of the last receive: other slots hold stale bytes.
    private func isReceived(_ index: Int) -> Bool {
        index >= 0 && index < received && filled[index]
    }

    /// The bytes of datagram `index` (truncated to ``bufferSize``); empty for an index
    /// the last receive did not fill.
    public func payload(_ index: Int) -> UnsafeRawBufferPointer {
        guard isReceived(index) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: buffers + index * bufferSize, count: min(Int(messages[index].msg_len), bufferSize))
    }

    /// True when datagram `index` was longer than ``bufferSize``.
    public func isTruncated(_ index: Int) -> Bool {
        isReceived(index) && messages[index].msg_hdr.msg_flags & VOLLEY_MSG_TRUNC != 0
    }

    /// Who sent datagram `index`; nil for an index the last receive did not fill.
    public func source(_ index: Int) -> SocketAddress? {
        guard isReceived(index) else { return nil }
        return SocketAddress(storage: addresses + index * Self.addressSize)
    }

    /// The local address and interface datagram `index` arrived on, if packet info was enabled.
    public func packetInfo(_ index: Int) -> PacketInfo? {
        guard isReceived(index) else { return nil }
        return withUnsafeMutablePointer(to: &messages[index].msg_hdr) { header -> PacketInfo? in
            var cmsg = volley_cmsg_firsthdr(header)
            while let current = cmsg {
                let data = UnsafeRawPointer(volley_cmsg_data(current)!)
                if current.pointee.cmsg_level == VOLLEY_IPPROTO_IP, current.pointee.cmsg_type == IP_PKTINFO {
                    let info = data.loadUnaligned(as: in_pktinfo.self)
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_addr = info.ipi_spec_dst.s_addr != 0 ? info.ipi_spec_dst : info.ipi_addr
                    return PacketInfo(localAddress: .v4(address), interfaceIndex: UInt32(bitPattern: info.ipi_ifindex))
                }
                if current.pointee.cmsg_level == VOLLEY_IPPROTO_IPV6, current.pointee.cmsg_type == IPV6_PKTINFO {
                    let info = data.loadUnaligned(as: volley_in6_pktinfo.self)
                    var address = sockaddr_in6()
                    address.sin6_family = sa_family_t(AF_INET6)
                    address.sin6_addr = info.ipi6_addr
                    return PacketInfo(localAddress: .v6(address), interfaceIndex: info.ipi6_ifindex)
                }
                cmsg = volley_cmsg_nxthdr(header, current)
            }
            return nil
        }
    }
}

@available(*, unavailable)
extension DatagramReceiveBatch: Sendable {}
