import Glibc
import SystemPackage
import Testing
@testable import VolleySystem
import VolleySystemTestSupport

/// Sends gathered from a ``FileMapping``: what a transfer's windows of full blocks do.
@Suite("Gathered sends from a file mapping", .timeLimit(.minutes(1)))
struct FileMappingSendTests {
    /// A scratch file of `bytes`, opened for reading; the caller closes and unlinks.
    private static func scratchFile(_ bytes: [UInt8]) throws -> (fd: Int32, path: String) {
        var template = Array("/tmp/volley-mapping-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        let path = String(cString: template)
        let wrote = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        try #require(wrote == bytes.count)
        return (fd, path)
    }

    private static func content(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 8) }
    }

    @Test("header + mapped payload per datagram, one GSO message for a run, arrive as separate datagrams")
    func gatheredDatagramsArriveWhole() throws {
        let blockSize = 1000
        let bytes = Self.content(20 * blockSize)
        let (fd, path) = try Self.scratchFile(bytes)
        defer {
            close(fd)
            unlink(path)
        }
        let mapping = try FileMapping(descriptor: Descriptor(rawValue: fd), length: bytes.count)
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        try UDPSocket.setReceiveBufferSize(receiver, bytes: 1 << 20)

        let headers: [UInt8] = (0..<8).flatMap { [0, 3, 0, UInt8($0 + 1)] }
        let batch = DatagramSendBatch(capacity: 8)
        headers.withUnsafeBytes { raw in
            // Blocks 1...8: one message of 8 segments (GSO).
            _ = batch.enqueue(
                descriptor: sender, to: receiverAddress, headers: raw.baseAddress!, headerSize: 4,
                payloads: mapping.base, payloadSize: blockSize, count: 8,
                segmentSize: 4 + blockSize, fromFileMapping: true)
        }
        let outcome = batch.flush()
        #expect(outcome.sent == 1)
        #expect(outcome.firstError == nil)
        for k in 0..<8 {
            let datagram = try #require(Net.receive(receiver))
            #expect(datagram.bytes.count == 4 + blockSize)
            #expect(Array(datagram.bytes.prefix(4)) == [0, 3, 0, UInt8(k + 1)])
            #expect(Array(datagram.bytes.dropFirst(4)) == Array(bytes[k * blockSize..<(k + 1) * blockSize]))
        }
    }

    @Test("a file truncated under its mapping fails that send with EFAULT, reported, not a crash")
    func truncatedFileIsAnErrorNotACrash() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = Self.content(16 * pageSize)
        let (fd, path) = try Self.scratchFile(bytes)
        defer {
            close(fd)
            unlink(path)
        }
        let mapping = try FileMapping(descriptor: Descriptor(rawValue: fd), length: bytes.count)
        #expect(ftruncate(fd, 0) == 0)
        let (receiver, receiverAddress) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }

        let header: [UInt8] = [0, 3, 0, 9]
        let batch = DatagramSendBatch(capacity: 4)
        let outcome = header.withUnsafeBytes { raw in
            _ = batch.enqueue(
                descriptor: sender, to: receiverAddress, headers: raw.baseAddress!, headerSize: 4,
                payloads: mapping.base + 8 * pageSize, payloadSize: 512, count: 1, fromFileMapping: true)
            return batch.flush()
        }
        #expect(outcome.sent == 0)
        #expect(outcome.firstError?.errno == .badAddress)
        #expect(Net.receive(receiver, milliseconds: 100) == nil, "nothing may go out for a page the file no longer has")
    }

    @Test("a file system object that cannot be mapped throws instead")
    func unmappableFileThrows() throws {
        let fd = open("/proc/self/status", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(throws: SystemError.self) { try FileMapping(descriptor: Descriptor(rawValue: fd), length: 4096) }
    }
}
