import CEpoll
import Glibc
import SystemPackage
import Testing
@testable import VolleySystem
import VolleySystemTestSupport

/// Receives until `expected` datagrams arrived (or 3 s passed), copying each out of the batch.
private func receiveAll(
    _ batch: DatagramReceiveBatch, from fd: Descriptor, expected: Int
) throws -> [(bytes: [UInt8], source: SocketAddress?, truncated: Bool, info: PacketInfo?)] {
    var result: [(bytes: [UInt8], source: SocketAddress?, truncated: Bool, info: PacketInfo?)] = []
    let start = MonotonicClock.milliseconds()
    var iterations = 0
    while result.count < expected, MonotonicClock.milliseconds() - start < 3000, iterations < 10_000 {
        iterations += 1
        let n = try batch.receive(from: fd)
        #expect(n == batch.count)
        #expect(n <= batch.capacity)
        if n == 0 {
            _ = Net.waitReadable(fd, milliseconds: 20)
            continue
        }
        for i in 0..<n {
            result.append((Array(batch.payload(i)), batch.source(i), batch.isTruncated(i), batch.packetInfo(i)))
        }
    }
    return result
}

private func send(
    _ batch: DatagramSendBatch, from fd: Descriptor, to peer: SocketAddress, _ datagrams: [[UInt8]], stride: Int
)
    -> DatagramSendBatch.Result
{
    var buffer = [UInt8](repeating: 0xEE, count: max(1, datagrams.count * stride))
    for (i, datagram) in datagrams.enumerated() { buffer.replaceSubrange(i * stride..<(i * stride + datagram.count), with: datagram) }
    let lengths = datagrams.map(\.count)
    return buffer.withUnsafeBytes { raw in
        lengths.withUnsafeBufferPointer { lengths in
            batch.send(
                descriptor: fd, to: peer, base: raw.baseAddress!, stride: stride, lengths: lengths.baseAddress!, count: datagrams.count)
        }
    }
}

private func pattern(_ index: Int, length: Int) -> [UInt8] {
    (0..<length).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0 &* 7) }
}

@Suite("Datagram batches", .timeLimit(.minutes(1)))
struct DatagramBatchTests {
    @Test func hundredDatagramsThroughSendmmsgArriveWholeAndInOrder() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, senderAddress) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        try UDPSocket.setReceiveBufferSize(receiver, bytes: 2 << 20)

        let stride = 300
        let datagrams = (0..<100).map { pattern($0, length: ($0 * 37) % stride) }  // includes an empty one
        let outcome = send(DatagramSendBatch(capacity: 16), from: sender, to: receiverAddress, datagrams, stride: stride)
        #expect(outcome.sent == 100)
        #expect(outcome.firstError == nil)

        let batch = DatagramReceiveBatch(capacity: 8, bufferSize: 512)
        var largest = 0
        var received: [[UInt8]] = []
        let start = MonotonicClock.milliseconds()
        while received.count < 100, MonotonicClock.milliseconds() - start < 3000 {
            let n = try batch.receive(from: receiver)
            largest = max(largest, n)
            if n == 0 {
                _ = Net.waitReadable(receiver, milliseconds: 20)
                continue
            }
            for i in 0..<n {
                received.append(Array(batch.payload(i)))
                #expect(batch.source(i) == senderAddress)
                #expect(!batch.isTruncated(i))
                #expect(batch.packetInfo(i) == nil, "packet info was not enabled")
            }
        }
        #expect(received.count == 100)
        #expect(received == datagrams)
        #expect(largest == 8, "receives should fill the batch when datagrams are waiting")
    }

    @Test func receiveHonoursMaximum() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        for i in 0..<5 { Net.send(sender, [UInt8(i)], to: receiverAddress) }
        let batch = DatagramReceiveBatch(capacity: 4, bufferSize: 16)
        #expect(try batch.receive(from: receiver, maximum: 2) == 2)
        #expect(Array(batch.payload(0)) == [0])
        #expect(Array(batch.payload(1)) == [1])
        #expect(try batch.receive(from: receiver, maximum: 100) == 3, "maximum is capped by the rest waiting")
        #expect(batch.count == 3)
        #expect((0..<3).map { Array(batch.payload($0)) } == [[2], [3], [4]])
    }

    @Test func perDatagramErrorSkipsOnlyThatDatagram() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        try UDPSocket.setReceiveBufferSize(receiver, bytes: 1 << 20)
        try UDPSocket.setSendBufferSize(sender, bytes: 1 << 20)
        let stride = 66_000
        let datagrams = [
            pattern(0, length: 10), pattern(1, length: 20), pattern(2, length: 66_000), pattern(3, length: 30), pattern(4, length: 40),
        ]
        let outcome = send(DatagramSendBatch(capacity: 8), from: sender, to: receiverAddress, datagrams, stride: stride)
        #expect(outcome.sent == 4)
        #expect(outcome.firstError?.errno.rawValue == EMSGSIZE)
        #expect(outcome.firstError?.call == "sendmmsg")
        let received = try receiveAll(DatagramReceiveBatch(), from: receiver, expected: 4)
        #expect(received.map(\.bytes) == [datagrams[0], datagrams[1], datagrams[3], datagrams[4]])
    }

    @Test func longDatagramIsFlaggedTruncated() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        let long = pattern(7, length: 100)
        let exact = pattern(8, length: 64)
        Net.send(sender, long, to: receiverAddress)
        Net.send(sender, exact, to: receiverAddress)
        let received = try receiveAll(DatagramReceiveBatch(capacity: 4, bufferSize: 64), from: receiver, expected: 2)
        try #require(received.count == 2)
        #expect(received[0].truncated)
        #expect(received[0].bytes == Array(long.prefix(64)))
        #expect(!received[1].truncated, "a datagram exactly bufferSize long is whole")
        #expect(received[1].bytes == exact)
    }

    @Test func receiveOnAnEmptySocketReturnsZero() throws {
        let (receiver, _) = try Net.bound(Net.v4())
        defer { closeDescriptor(receiver) }
        let batch = DatagramReceiveBatch(capacity: 4)
        #expect(try batch.receive(from: receiver) == 0)
        #expect(batch.count == 0)
        #expect(try batch.receive(from: receiver) == 0)
    }

    @Test func receiveOnABlockingSocketDoesNotBlock() throws {
        let fd = Descriptor(rawValue: socket(AF_INET, VOLLEY_SOCK_DGRAM, 0))
        try #require(fd.rawValue >= 0)
        defer { closeDescriptor(fd) }
        try UDPSocket.bind(fd, to: Net.v4())
        let batch = DatagramReceiveBatch(capacity: 4)
        let start = MonotonicClock.milliseconds()
        #expect(try batch.receive(from: fd) == 0)
        #expect(MonotonicClock.milliseconds() - start < 1000)
    }

    @Test func receiveOnANonSocketThrows() throws {
        let fd = Descriptor(rawValue: open("/dev/null", O_RDONLY))
        try #require(fd.rawValue >= 0)
        defer { closeDescriptor(fd) }
        // One slot goes through recvmsg, more through recvmmsg: both report the error.
        for (capacity, call) in [(1, "recvmsg"), (4, "recvmmsg")] {
            let error = #expect(throws: SystemError.self) { try DatagramReceiveBatch(capacity: capacity).receive(from: fd) }
            #expect(error?.errno.rawValue == ENOTSOCK)
            #expect(error?.call == call)
        }
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func packetInfoReportsTheLoopbackAddressAndInterface(ip: String) throws {
        let local = SocketAddress(ip: ip, port: 0)!
        let (receiver, receiverAddress) = try Net.bound(local, packetInfo: true)
        let (sender, senderAddress) = try Net.bound(local)
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        Net.send(sender, [1, 2, 3], to: receiverAddress)
        Net.send(sender, [4, 5], to: receiverAddress)
        let received = try receiveAll(DatagramReceiveBatch(capacity: 4), from: receiver, expected: 2)
        try #require(received.count == 2)
        for datagram in received {
            #expect(datagram.source == senderAddress)
            let info = try #require(datagram.info)
            #expect(info.localAddress.ipString == ip)
            #expect(info.localAddress.family == local.family)
            #expect(info.localAddress.port == 0)
            #expect(info.interfaceIndex == Net.loopbackIndex)
            #expect(info.interfaceIndex != 0)
        }
        #expect(received.map(\.bytes) == [[1, 2, 3], [4, 5]])
    }

    @Test func sendOneFromAPacketInfoSourceOnAWildcardSocket() throws {
        let (server, serverAddress) = try Net.bound(Net.v4("0.0.0.0"))
        let (client, clientAddress) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(server)
            closeDescriptor(client)
        }
        #expect(serverAddress.isWildcard)
        let batch = DatagramSendBatch()
        let source = PacketInfo(localAddress: Net.v4(), interfaceIndex: Net.loopbackIndex)
        let payload: [UInt8] = [0, 3, 0, 1, 0xAA]
        let sent = payload.withUnsafeBytes { batch.sendOne(descriptor: server, bytes: $0, to: clientAddress, from: source) }
        #expect(sent.sent == 1)
        let reply = try #require(Net.receive(client))
        #expect(reply.bytes == payload)
        #expect(reply.from == Net.v4(port: serverAddress.port))
    }

    /// 127.0.0.2 is also on the loopback interface; the reply can only come from it if the
    /// IP_PKTINFO control message was honoured.
    @Test func sendOneSourceAddressIsReallyApplied() throws {
        let (server, serverAddress) = try Net.bound(Net.v4("0.0.0.0"))
        let (client, clientAddress) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(server)
            closeDescriptor(client)
        }
        let source = PacketInfo(localAddress: Net.v4("127.0.0.2"), interfaceIndex: 0)
        let sent = [UInt8]([42]).withUnsafeBytes {
            DatagramSendBatch().sendOne(descriptor: server, bytes: $0, to: clientAddress, from: source)
        }
        #expect(sent.sent == 1)
        let reply = try #require(Net.receive(client))
        #expect(reply.from == Net.v4("127.0.0.2", port: serverAddress.port))
    }

    @Test func sendOneV6WithSourceAndWithout() throws {
        let (server, serverAddress) = try Net.bound(Net.v6(), packetInfo: true)
        let (client, clientAddress) = try Net.bound(Net.v6())
        defer {
            closeDescriptor(server)
            closeDescriptor(client)
        }
        let batch = DatagramSendBatch()
        let source = PacketInfo(localAddress: Net.v6(), interfaceIndex: Net.loopbackIndex)
        #expect([UInt8]([1]).withUnsafeBytes { batch.sendOne(descriptor: server, bytes: $0, to: clientAddress, from: source) }.sent == 1)
        #expect([UInt8]([2]).withUnsafeBytes { batch.sendOne(descriptor: server, bytes: $0, to: clientAddress) }.sent == 1)
        // A v4 source for a v6 peer is ignored rather than sent as a bogus control message.
        let mismatched = PacketInfo(localAddress: Net.v4(), interfaceIndex: 0)
        #expect(
            [UInt8]([3]).withUnsafeBytes { batch.sendOne(descriptor: server, bytes: $0, to: clientAddress, from: mismatched) }.sent == 1)
        for expected: UInt8 in [1, 2, 3] {
            let reply = try #require(Net.receive(client))
            #expect(reply.bytes == [expected])
            #expect(reply.from == serverAddress)
        }
    }

    @Test func sendOneReportsPerDatagramErrors() throws {
        let (sender, _) = try Net.bound(Net.v4())
        defer { closeDescriptor(sender) }
        let peer = Net.v4(port: 9)
        let big = [UInt8](repeating: 0, count: 70_000)
        let result = big.withUnsafeBytes { DatagramSendBatch().sendOne(descriptor: sender, bytes: $0, to: peer) }
        #expect(result.sent == 0)
        #expect(result.firstError?.errno.rawValue == EMSGSIZE)
        #expect(result.firstError?.call.hasPrefix("send") == true, "call: \(result.firstError?.call ?? "")")
    }

    /// `sendOne` flushes what was queued first; an error of that flush (here EMSGSIZE, in the
    /// server a GSO refusal) must reach the caller, not be dropped.
    @Test func sendOneReportsErrorsOfTheMessagesQueuedBeforeIt() throws {
        let (sender, _) = try Net.bound(Net.v4())
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(sender)
            closeDescriptor(receiver)
        }
        let batch = DatagramSendBatch()
        let big = [UInt8](repeating: 0, count: 70_000)
        _ = big.withUnsafeBytes { batch.enqueue(descriptor: sender, to: receiverAddress, bytes: $0.baseAddress!, count: $0.count) }
        let result = [UInt8]([7]).withUnsafeBytes { batch.sendOne(descriptor: sender, bytes: $0, to: receiverAddress) }
        #expect(result.sent == 1)
        #expect(result.firstError?.errno.rawValue == EMSGSIZE)
        #expect(Net.receive(receiver)?.bytes == [7])
    }

    @Test func receiveBatchAccessorsIgnoreSlotsTheLastReceiveDidNotFill() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(sender)
            closeDescriptor(receiver)
        }
        let batch = DatagramReceiveBatch(capacity: 4, bufferSize: 64)
        Net.send(sender, [1, 2, 3], to: receiverAddress)
        Net.send(sender, [4], to: receiverAddress)
        #expect(Net.waitReadable(receiver, milliseconds: 1000))
        usleep(20_000)
        #expect(try batch.receive(from: receiver) == 2)
        Net.send(sender, [9, 9], to: receiverAddress)
        #expect(Net.waitReadable(receiver, milliseconds: 1000))
        #expect(try batch.receive(from: receiver) == 1)
        // Slot 1 still holds the [4] of the previous receive: it must not be reported.
        #expect(Array(batch.payload(0)) == [9, 9])
        #expect(batch.payload(1).isEmpty)
        #expect(batch.source(1) == nil)
        #expect(batch.packetInfo(1) == nil)
        #expect(!batch.isTruncated(1))
        #expect(batch.source(-1) == nil)
    }

    @Test func dualStackSocketReceivesFromIPv4WithUsablePacketInfo() throws {
        let (server, serverAddress) = try Net.bound(Net.v6("::"), packetInfo: true)
        let (client, clientAddress) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(server)
            closeDescriptor(client)
        }
        #expect(try UDPSocket.family(of: server) == .ipv6)
        Net.send(client, [7, 7], to: Net.v4(port: serverAddress.port))
        let received = try receiveAll(DatagramReceiveBatch(capacity: 2), from: server, expected: 1)
        try #require(received.count == 1)
        let datagram = received[0]
        #expect(datagram.bytes == [7, 7])
        let source = try #require(datagram.source)
        #expect(source.port == clientAddress.port)
        #expect(source.ipString == "::ffff:127.0.0.1" || source.ipString == "127.0.0.1")
        let info = try #require(datagram.info)
        #expect(info.interfaceIndex == Net.loopbackIndex)
        #expect(["127.0.0.1", "::ffff:127.0.0.1"].contains(info.localAddress.ipString), "local \(info.localAddress)")

        // Usable: replying from it reaches the client from the address it sent to.
        let sent = [UInt8]([8]).withUnsafeBytes {
            DatagramSendBatch().sendOne(descriptor: server, bytes: $0, to: source, from: info)
        }
        #expect(sent.sent == 1)
        let reply = try #require(Net.receive(client))
        #expect(reply.bytes == [8])
        #expect(reply.from == Net.v4(port: serverAddress.port))
    }

    @Test func batchesAreReusableAcrossManyRounds() throws {
        let (receiver, receiverAddress) = try Net.bound(Net.v6(), packetInfo: true)
        let (sender, senderAddress) = try Net.bound(Net.v6())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        let sendBatch = DatagramSendBatch(capacity: 4)
        let receiveBatch = DatagramReceiveBatch(capacity: 4, bufferSize: 64)
        for round in 0..<50 {
            let datagrams = (0..<(1 + round % 6)).map { pattern(round * 10 + $0, length: 1 + ($0 * 13 + round) % 64) }
            let outcome = send(sendBatch, from: sender, to: receiverAddress, datagrams, stride: 64)
            #expect(outcome.sent == datagrams.count)
            let received = try receiveAll(receiveBatch, from: receiver, expected: datagrams.count)
            #expect(received.map(\.bytes) == datagrams)
            #expect(received.allSatisfy { $0.source == senderAddress && $0.info?.localAddress.ipString == "::1" })
        }
    }
}
