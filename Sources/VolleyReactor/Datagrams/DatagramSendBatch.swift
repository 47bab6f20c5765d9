internal import CEpoll
import Glibc

/// Reusable sendmmsg(2) state for sending many datagrams to one peer in one call.
///
/// Not thread-safe; one per reactor.
public final class DatagramSendBatch {
    /// The most datagrams one call sends.
    public let capacity: Int

    private let messages: UnsafeMutablePointer<volley_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let destination: UnsafeMutableRawPointer
    private let control: UnsafeMutableRawPointer
    private static let controlSize = 64

    /// Allocates headers for `capacity` datagrams.
    public init(capacity: Int = 64) {
        self.capacity = capacity
        messages = .allocate(capacity: capacity)
        vectors = .allocate(capacity: capacity)
        destination = .allocate(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 16)
        control = .allocate(byteCount: Self.controlSize, alignment: 16)
    }

    deinit {
        messages.deallocate()
        vectors.deallocate()
        destination.deallocate()
        control.deallocate()
    }

    /// The outcome of a batched send.
    public struct Result: Sendable {
        /// Datagrams the kernel took.
        public var sent: Int
        /// The first per-datagram error, if any datagram was refused (the rest were still tried).
        public var firstError: SystemError?
    }

    /// Sends `count` datagrams to `peer`: datagram i is `lengths[i]` bytes at `base + i * stride`.
    ///
    /// Stops early when the socket buffer is full (the retransmission timer covers the rest).
    /// Errors for one datagram (EMSGSIZE, EHOSTUNREACH, …) skip that datagram only.
    public func send(
        descriptor: Int32, to peer: SocketAddress,
        base: UnsafeRawPointer, stride: Int, lengths: UnsafePointer<Int>, count: Int
    ) -> Result {
        let nameLength = peer.write(to: destination)
        var result = Result(sent: 0, firstError: nil)
        var start = 0
        while start < count {
            let batch = min(count - start, capacity)
            for i in 0..<batch {
                let index = start + i
                vectors[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + index * stride), iov_len: lengths[index])
                var header = msghdr()
                header.msg_name = destination
                header.msg_namelen = nameLength
                header.msg_iov = vectors + i
                header.msg_iovlen = 1
                messages[i] = volley_mmsghdr(msg_hdr: header, msg_len: 0)
            }
            do {
                switch try nonBlockingSyscall("sendmmsg", { volley_sendmmsg(descriptor, messages, UInt32(batch), 0) }) {
                case .wouldBlock:
                    return result
                case .done(let n):
                    result.sent += Int(n)
                    start += Int(n)
                }
            } catch {
                // The first datagram of this batch was refused: skip it, keep going.
                if result.firstError == nil { result.firstError = error }
                start += 1
            }
        }
        return result
    }

    /// Sends one datagram to `peer`, from `source`'s address when given (IP_PKTINFO),
    /// so that a reply leaves from the address the request was sent to.
    /// Returns false when the socket buffer was full.
    @discardableResult
    public func sendOne(
        descriptor: Int32, bytes: UnsafeRawBufferPointer, to peer: SocketAddress, from source: PacketInfo? = nil
    ) throws(SystemError) -> Bool {
        var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        var header = msghdr()
        header.msg_name = destination
        header.msg_namelen = peer.write(to: destination)
        let outcome = try withUnsafeMutablePointer(to: &vector) { vectorPointer throws(SystemError) -> IOResult<Int> in
            header.msg_iov = vectorPointer
            header.msg_iovlen = 1
            if let source { attachSource(source, peerFamily: peer.family, to: &header) }
            return try nonBlockingSyscall("sendmsg(\(peer))", { sendmsg(descriptor, &header, 0) })
        }
        if case .wouldBlock = outcome { return false }
        return true
    }

    private func attachSource(_ source: PacketInfo, peerFamily: Int32, to header: inout msghdr) {
        control.initializeMemory(as: UInt8.self, repeating: 0, count: Self.controlSize)
        header.msg_control = control
        switch source.localAddress {
        case .v4(let local) where peerFamily == AF_INET:
            header.msg_controllen = volley_cmsg_space(MemoryLayout<in_pktinfo>.size)
            let cmsg = volley_cmsg_firsthdr(&header)!
            cmsg.pointee.cmsg_level = VOLLEY_IPPROTO_IP
            cmsg.pointee.cmsg_type = IP_PKTINFO
            cmsg.pointee.cmsg_len = volley_cmsg_len(MemoryLayout<in_pktinfo>.size)
            var info = in_pktinfo()
            info.ipi_spec_dst = local.sin_addr
            UnsafeMutableRawPointer(volley_cmsg_data(cmsg)!).storeBytes(of: info, as: in_pktinfo.self)
        case .v6(let local) where peerFamily == AF_INET6:
            header.msg_controllen = volley_cmsg_space(MemoryLayout<volley_in6_pktinfo>.size)
            let cmsg = volley_cmsg_firsthdr(&header)!
            cmsg.pointee.cmsg_level = VOLLEY_IPPROTO_IPV6
            cmsg.pointee.cmsg_type = IPV6_PKTINFO
            cmsg.pointee.cmsg_len = volley_cmsg_len(MemoryLayout<volley_in6_pktinfo>.size)
            var info = volley_in6_pktinfo()
            info.ipi6_addr = local.sin6_addr
            UnsafeMutableRawPointer(volley_cmsg_data(cmsg)!).storeBytes(of: info, as: volley_in6_pktinfo.self)
        default:
            header.msg_control = nil
            header.msg_controllen = 0
        }
    }
}

@available(*, unavailable)
extension DatagramSendBatch: Sendable {}
