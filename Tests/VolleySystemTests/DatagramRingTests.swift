import Glibc
import SystemPackage
import Testing
@testable import VolleySystem
import VolleySystemTestSupport

/// The io_uring path: the sends and receives of many sockets in one submission. Where the
/// kernel refuses io_uring these tests say so and check nothing else.
@Suite("Datagram batches through io_uring", .timeLimit(.minutes(1)))
struct DatagramRingTests {
    /// A ring, or nil (with a note) where the kernel forbids io_uring.
    private static func ring() -> DatagramRing? {
        do {
            return try DatagramRing(capacity: 64)
        } catch {
            withKnownIssue("io_uring is not allowed here: \(error)") { throw error }
            return nil
        }
    }

    private static func payload(_ index: Int, length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: index &* 41 &+ $0) }
    }

    /// Queues `count` datagrams, the i-th from `senders[i % senders.count]` (so the sockets
    /// alternate, the worst case for per-socket calls), and flushes once.
    private static func sendAlternating(
        _ batch: DatagramSendBatch, senders: [Descriptor], to receiver: SocketAddress, count: Int, firstPayload: Int = 0
    ) -> (DatagramSendBatch.Result, [[UInt8]]) {
        let datagrams = (firstPayload..<firstPayload + count).map { payload($0, length: 20 + $0) }
        let flat = datagrams.flatMap { $0 }
        let result = flat.withUnsafeBytes { raw in
            var offset = 0
            for (i, datagram) in datagrams.enumerated() {
                _ = batch.enqueue(
                    descriptor: senders[i % senders.count], to: receiver, bytes: raw.baseAddress! + offset, count: datagram.count)
                offset += datagram.count
            }
            return batch.flush()
        }
        return (result, datagrams)
    }

    @Test("datagrams of four sockets queued alternately go out in one flush, each from its own socket", arguments: [true, false])
    func manySocketsOneFlush(throughRing: Bool) throws {
        let ring = throughRing ? Self.ring() : nil
        if throughRing, ring == nil { return }
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let senders = try (0..<4).map { _ in try Net.bound(Net.v4()) }
        defer {
            closeDescriptor(receiver)
            for sender in senders { closeDescriptor(sender.fd) }
        }
        try UDPSocket.setReceiveBufferSize(receiver, bytes: 1 << 20)

        let (result, datagrams) = Self.sendAlternating(
            DatagramSendBatch(capacity: 32, ring: ring), senders: senders.map(\.fd), to: receiverAddress, count: 30)
        #expect(result.sent == 30)
        #expect(result.wouldBlock == 0)
        #expect(result.firstError == nil)

        var received: [[UInt8]: SocketAddress] = [:]
        while received.count < 30, let datagram = Net.receive(receiver, milliseconds: 2000) {
            received[datagram.bytes] = datagram.from
        }
        #expect(received.count == 30)
        for (i, datagram) in datagrams.enumerated() {
            #expect(received[datagram] == senders[i % 4].address, "datagram \(i) came from the wrong socket")
        }
    }

    @Test("a refused message among many sockets' is reported and skipped; the others go out")
    func perMessageErrorThroughTheRing() throws {
        guard let ring = Self.ring() else { return }
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (first, _) = try Net.bound(Net.v4())
        let (second, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(first)
            closeDescriptor(second)
        }
        try UDPSocket.setSendBufferSize(second, bytes: 1 << 20)
        let batch = DatagramSendBatch(capacity: 8, ring: ring)
        let small = Self.payload(1, length: 10)
        let tooLong = [UInt8](repeating: 7, count: 66_000)  // over the UDP maximum: EMSGSIZE
        let result = small.withUnsafeBytes { smallRaw in
            tooLong.withUnsafeBytes { longRaw in
                _ = batch.enqueue(descriptor: first, to: receiverAddress, bytes: smallRaw.baseAddress!, count: smallRaw.count)
                _ = batch.enqueue(descriptor: second, to: receiverAddress, bytes: longRaw.baseAddress!, count: longRaw.count)
                _ = batch.enqueue(descriptor: first, to: receiverAddress, bytes: smallRaw.baseAddress!, count: smallRaw.count)
                return batch.flush()
            }
        }
        #expect(result.sent == 2)
        #expect(result.firstError?.errno.rawValue == EMSGSIZE)
        #expect(Net.receive(receiver)?.bytes == small)
        #expect(Net.receive(receiver)?.bytes == small)
    }

    @Test(
        "a submission the kernel takes only in part retires the ring: the rest count as not sent and never run; later flushes use a call per socket"
    )
    func partialSubmissionRetiresTheRing() throws {
        guard let ring = Self.ring() else { return }
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let senders = try (0..<5).map { _ in try Net.bound(Net.v4()) }
        defer {
            closeDescriptor(receiver)
            for sender in senders { closeDescriptor(sender.fd) }
        }
        try UDPSocket.setReceiveBufferSize(receiver, bytes: 1 << 20)
        let batch = DatagramSendBatch(capacity: 16, ring: ring)

        // The kernel takes the first two of five operations, as when it is short of memory.
        ring.submissionLimitForTesting = 2
        let (first, sentFirst) = Self.sendAlternating(batch, senders: senders.map(\.fd), to: receiverAddress, count: 5)
        #expect(ring.isBroken)
        #expect(first.sent == 2)
        #expect(first.wouldBlock == 3)
        #expect(first.firstError == nil)

        // The batch no longer enters the ring: five more go out through a call per socket.
        ring.submissionLimitForTesting = nil
        let (second, sentSecond) = Self.sendAlternating(
            batch, senders: senders.map(\.fd), to: receiverAddress, count: 5, firstPayload: 100)
        #expect(second.sent == 5)
        #expect(second.wouldBlock == 0)

        var received: [[UInt8]] = []
        while let datagram = Net.receive(receiver, milliseconds: 300) { received.append(datagram.bytes) }
        // The two the kernel took, then the second flush's five; the three left in the ring's
        // queue never ran, not even when the batch was flushed again.
        #expect(received.count == 7, "\(received.count) datagrams arrived")
        #expect(received.sorted { $0.count < $1.count } == Array(sentFirst.prefix(2)) + sentSecond)
    }

    @Test("a file truncated under its mapping fails that ring send with EFAULT, reported, not a crash")
    func truncatedMappingThroughTheRing() throws {
        guard let ring = Self.ring() else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var template = Array("/tmp/volley-ring-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(template.withUnsafeBufferPointer { $0.baseAddress! })
        }
        try #require(ftruncate(fd, off_t(4 * pageSize)) == 0)
        let mapping = try FileMapping(descriptor: Descriptor(rawValue: fd), length: 4 * pageSize)
        #expect(ftruncate(fd, 0) == 0)
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (first, _) = try Net.bound(Net.v4())
        let (second, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(first)
            closeDescriptor(second)
        }

        let header: [UInt8] = [0, 3, 0, 1]
        let plain = Self.payload(2, length: 16)
        let batch = DatagramSendBatch(capacity: 4, ring: ring)
        let result = header.withUnsafeBytes { headerRaw in
            plain.withUnsafeBytes { plainRaw in
                _ = batch.enqueue(
                    descriptor: first, to: receiverAddress, headers: headerRaw.baseAddress!, headerSize: 4,
                    payloads: mapping.base + pageSize, payloadSize: 512, count: 1, fromFileMapping: true)
                _ = batch.enqueue(descriptor: second, to: receiverAddress, bytes: plainRaw.baseAddress!, count: plainRaw.count)
                return batch.flush()
            }
        }
        #expect(result.sent == 1)
        #expect(result.firstError?.errno == .badAddress)
        #expect(Net.receive(receiver)?.bytes == plain)
        #expect(Net.receive(receiver, milliseconds: 100) == nil, "nothing may go out for a page the file no longer has")
    }

    @Test("one receive takes a datagram from each socket that has one; the others' slots stay empty")
    func receiveOneFromEach() throws {
        guard let ring = Self.ring() else { return }
        let (sender, senderAddress) = try Net.bound(Net.v4())
        let sockets = try (0..<5).map { _ in try Net.bound(Net.v4()) }
        defer {
            closeDescriptor(sender)
            for socket in sockets { closeDescriptor(socket.fd) }
        }
        for i in [0, 2, 4] { Net.send(sender, Self.payload(i, length: 30 + i), to: sockets[i].address) }
        Net.send(sender, [UInt8](repeating: 1, count: 3000), to: sockets[4].address)  // a second one waits
        for i in [0, 2, 4] { #expect(Net.waitReadable(sockets[i].fd, milliseconds: 2000)) }

        let batch = DatagramReceiveBatch(capacity: 8, bufferSize: 2048)
        let descriptors = sockets.map(\.fd)
        let failure = descriptors.withUnsafeBufferPointer { batch.receiveOne(fromEach: $0, through: ring) }
        #expect(failure == nil)
        #expect(batch.count == 5)
        for i in [0, 2, 4] {
            #expect(Array(batch.payload(i)) == Self.payload(i, length: 30 + i))
            #expect(batch.source(i) == senderAddress)
            #expect(!batch.isTruncated(i))
        }
        for i in [1, 3] {
            #expect(batch.payload(i).isEmpty)
            #expect(batch.source(i) == nil)
        }

        // The second datagram of socket 4 comes with the next receive, flagged as too long.
        let again = [sockets[4].fd].withUnsafeBufferPointer { batch.receiveOne(fromEach: $0, through: ring) }
        #expect(again == nil)
        #expect(batch.payload(0).count == 2048)
        #expect(batch.isTruncated(0))
    }
}
