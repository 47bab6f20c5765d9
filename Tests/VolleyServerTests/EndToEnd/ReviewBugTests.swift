import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// The bugs found when the server was read beside SwiftNIO, swift-system and Redis:
/// each test failed before its fix.
@Suite("Regressions: bugs found in review", .timeLimit(.minutes(2)))
struct ReviewBugTests {
    @Test("a netascii request for a huge file is answered at once, without tsize, and other clients are not held up")
    func netasciiStreamsInsteadOfScanningTheWholeFile() async throws {
        let scratch = try TestDirectory("na")
        defer { scratch.remove() }
        // 8 GiB of holes: scanning it for the converted size took the reactor for seconds.
        try scratch.write("root/small.bin", SeededBytes.make(count: 3000, seed: 4))
        let huge = try scratch.write("root/huge.txt", [])
        try #require(truncate(huge, 8 << 30) == 0)
        try await withServer(root: scratch.path("root")) { server in
            let answered: (oack: [TFTPOption]?, seconds: Double, other: Bool) = try await offload {
                let client = try RawTFTPClient()
                let start = Date()
                client.sendReadRequest("huge.txt", mode: "netascii", options: [("tsize", "0"), ("blksize", "1024")], to: server.address)
                // Another client right behind it must be answered promptly too.
                let other = try RawTFTPClient()
                let fetched = try? other.fetch("small.bin", from: server.address, timeout: 2)
                guard let first = client.receive(timeout: 5), case .optionAcknowledgement(let options)? = first.packet else {
                    return (nil, Date().timeIntervalSince(start), fetched != nil)
                }
                let seconds = Date().timeIntervalSince(start)
                client.send(.acknowledgement(block: 0), to: first.source)
                guard let data = client.receive(timeout: 5), case .data(1, let payload)? = data.packet else {
                    return (options, seconds, false)
                }
                #expect(payload.count == 1024 && payload.allSatisfy { $0 == 0 }, "NULs stay NULs in netascii")
                client.send(.error(code: .notDefined, message: "enough"), to: data.source)
                return (options, seconds, fetched?.bytes == SeededBytes.make(count: 3000, seed: 4))
            }
            let options = try #require(answered.oack, "no OACK for the netascii request")
            #expect(!options.contains { $0.name == "tsize" }, "tsize must not be offered for a large netascii file: \(options)")
            #expect(options.contains { $0.name == "blksize" && $0.value == "1024" })
            #expect(answered.seconds < 2, "the OACK took \(answered.seconds) s")
            #expect(answered.other, "a second client was not served while the netascii request was answered")
        }
    }

    @Test("netascii transfers still deliver every byte converted, with tsize for small files")
    func netasciiSmallFileHasTransferSize() async throws {
        let scratch = try TestDirectory("nb")
        defer { scratch.remove() }
        let text = Array("line one\nline two\r\nbare\rend\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 1500)
        try scratch.write("root/t.txt", text)
        try await withServer(root: scratch.path("root")) { server in
            let result = try await offload {
                try RawTFTPClient().fetch("t.txt", mode: "netascii", options: [("tsize", "0")], from: server.address)
            }
            let expected = text.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) }
            #expect(result.optionAcknowledgement?.first { $0.name == "tsize" }?.value == String(expected))
            #expect(UInt64(result.bytes.count) == expected)
            var decoder = NetasciiDecoder()
            #expect(decoder.decode(result.bytes) == text)
        }
    }

    @Test("a netascii block asked for out of order is an error, not an empty block")
    func missingNetasciiCheckpointThrows() throws {
        let scratch = try TestDirectory("nc")
        defer { scratch.remove() }
        let path = try scratch.write("t.txt", Array(repeating: UInt8(ascii: "a"), count: 5000))
        let file = try FileSystem.open(path)
        var source = NetasciiBlockSource()
        let block = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 8)
        let scratchBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer {
            block.deallocate()
            scratchBuffer.deallocate()
        }
        #expect(throws: NetasciiBlockSource.MissingCheckpoint.self) {
            _ = try source.produce(block: 5, blockSize: 512, from: file.descriptor, into: block, scratch: scratchBuffer)
        }
        #expect(try source.produce(block: 1, blockSize: 512, from: file.descriptor, into: block, scratch: scratchBuffer) == 512)
    }

    @Test("a file name that is not UTF-8 opens the file with exactly those bytes")
    func fileNamesAreTheRequestBytes() async throws {
        let scratch = try TestDirectory("nm")
        defer { scratch.remove() }
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".cfg".utf8)  // Latin-1 "café.cfg"
        let content = SeededBytes.make(count: 700, seed: 5)
        try scratch.write("root/placeholder", [0])
        let full = Array(scratch.path("root/").utf8) + name + [0]
        let fd = full.withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        try #require(fd >= 0)
        _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try await withServer(root: scratch.path("root")) { server in
            let result: [UInt8]? = try await offload {
                let client = try RawTFTPClient()
                client.send([0, 1] + name + [0] + Array("octet".utf8) + [0], to: server.address)
                var bytes: [UInt8] = []
                while let datagram = client.receive(timeout: 3) {
                    guard case .data(let block, let payload)? = datagram.packet else { return nil }
                    // A resend (the ACK was late on a loaded machine) is acknowledged, not kept twice.
                    guard block == UInt16(truncatingIfNeeded: bytes.count / 512 + 1) else {
                        client.send(.acknowledgement(block: block), to: datagram.source)
                        continue
                    }
                    bytes += payload
                    client.send(.acknowledgement(block: block), to: datagram.source)
                    if payload.count < 512 { return bytes }
                }
                return nil
            }
            #expect(result == content, "the file with a non-UTF-8 name was not served")
        }
    }

    @Test("a stop right after a reload that changes the root closes the new root's descriptor")
    func stopDuringReloadDoesNotLeakTheNewRoot() async throws {
        let scratch = try TestDirectory("rr")
        defer { scratch.remove() }
        try scratch.write("a/x", [1])
        try scratch.write("b/x", [2])
        let newRoot = scratch.path("b")
        for _ in 0..<20 {
            let server = TFTPServer(configuration: TFTPServerConfiguration(rootDirectory: scratch.path("a"), host: "127.0.0.1", port: 0))
            try server.start()
            var changed = server.configuration
            changed.rootDirectory = newRoot
            try server.reload(changed)
            try server.stop()
        }
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == newRoot
        }
        #expect(open.isEmpty, "\(open.count) descriptor(s) of the reloaded root are still open")
    }

    @Test("putFile reads an existing file once to compare it, not twice")
    func putFileHashesTheExistingFileOnce() async throws {
        let scratch = try TestDirectory("ph")
        defer { scratch.remove() }
        try scratch.write("root/k", SeededBytes.make(count: 100_000, seed: 6))
        let server = TFTPServer(configuration: TFTPServerConfiguration(rootDirectory: scratch.path("root"), host: "127.0.0.1", port: 0))
        let counter = HashCounter()
        let replaced = try SHA256Hex.$filesHashed.withValue(counter) {
            try server.putFile("k", bytes: SeededBytes.make(count: 100_000, seed: 7))
        }
        #expect(replaced == .written)
        #expect(counter.count == 1, "the existing file was hashed \(counter.count) times")
        let again = HashCounter()
        let created = try SHA256Hex.$filesHashed.withValue(again) {
            try server.putFile("new", bytes: [1, 2, 3])
        }
        #expect(created == .written)
        #expect(again.count == 0, "a new file needs no hashing of what is not there")
    }
}
