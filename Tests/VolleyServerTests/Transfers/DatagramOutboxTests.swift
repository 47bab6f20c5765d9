import Glibc
import Logging
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// The outbox keeps what its queued datagrams point at (the socket, the file's mapping)
/// until they are sent, whatever happens to the transfer in between.
@Suite("Datagram outbox", .timeLimit(.minutes(1)))
struct DatagramOutboxTests {
    private static func receiver() throws -> (fd: Descriptor, address: SocketAddress) {
        let socket = try UDPSocket.openBound(to: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let fd = socket.release()
        return (fd, try UDPSocket.localAddress(of: fd))
    }

    private static func receive(_ fd: Descriptor) -> [UInt8]? {
        var poll = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, 2000) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer.prefix(n)) : nil
    }

    /// Queues one DATA block `block` of `payload` on `socket`, as a transfer's window of one.
    private static func queueBlock(
        _ block: UInt16, payload: [UInt8], on socket: DatagramSocket, to peer: SocketAddress, in outbox: DatagramOutbox
    ) {
        let slots = outbox.reserveWindow(blockSize: 512, count: 1)
        TFTPPacketEncoder.writeDataHeader(block: block, to: slots)
        payload.withUnsafeBytes { if let base = $0.baseAddress { (slots + 4).copyMemory(from: base, byteCount: $0.count) } }
        outbox.window.setLength(payload.count, at: 0)
        outbox.queueWindow(slots, count: 1, blockSize: 512, on: socket, to: peer, from: nil)
    }

    @Test("a transfer socket released before the flush stays open until its window is sent")
    func queuedWindowKeepsItsSocket() throws {
        let (receiverFD, receiverAddress) = try Self.receiver()
        defer { OwnedDescriptor.close(receiverFD) }
        let outbox = DatagramOutbox(segmentationOffload: true, logger: Logger(label: "test"))
        var socket: DatagramSocket? = try DatagramSocket.bound(to: SocketAddress(ip: "127.0.0.1", port: 0)!)
        Self.queueBlock(7, payload: [UInt8](repeating: 0xAB, count: 100), on: socket!, to: receiverAddress, in: outbox)
        socket = nil  // the transfer ended in the same turn and left the table
        outbox.flush()
        let datagram = try #require(Self.receive(receiverFD))
        #expect(datagram == [0, 3, 0, 7] + [UInt8](repeating: 0xAB, count: 100))
    }

    @Test("queuing for a second socket sends the first socket's window before letting the first socket go")
    func switchingSocketsSendsThePreviousWindowFirst() throws {
        let (receiverFD, receiverAddress) = try Self.receiver()
        defer { OwnedDescriptor.close(receiverFD) }
        let outbox = DatagramOutbox(segmentationOffload: true, logger: Logger(label: "test"))
        var first: DatagramSocket? = try DatagramSocket.bound(to: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let second = try DatagramSocket.bound(to: SocketAddress(ip: "127.0.0.1", port: 0)!)
        for (block, socket) in [(UInt16(1), first!), (UInt16(2), second)] {
            Self.queueBlock(block, payload: [], on: socket, to: receiverAddress, in: outbox)
            if block == 1 { first = nil }
        }
        outbox.flush()
        #expect(Self.receive(receiverFD) == [0, 3, 0, 1])
        #expect(Self.receive(receiverFD) == [0, 3, 0, 2])
    }
}
