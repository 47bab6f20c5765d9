import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleyReactor
import VolleySystem
import VolleyServer

/// listFiles, deleteFile, checkFileChecksum and putFile, checked against what TFTP clients then receive.
@Suite("API: file management")
struct FileManagementTests {
    /// SHA-256 of bytes as lowercase hex, by sha256sum (independent of the server's code).
    static func sha256(_ bytes: [UInt8], in directory: TestDirectory) async throws -> String {
        let path = try directory.write("hash-input-\(UUID().uuidString)", bytes)
        defer { unlink(path) }
        let result = try await runProcess("sha256sum", arguments: [path], timeout: 30)
        return String(result.stdout.prefix(64))
    }

    static func fetch(_ name: String, from server: TFTPServer) async throws -> [UInt8] {
        let address = server.address
        return try await offload { try RawTFTPClient().fetch(name, options: [("blksize", "1468")], from: address).bytes }
    }

    @Test("listFiles lists regular files recursively, sorted; deleteFile removes; missing → fileNotFound")
    func listAndDelete() async throws {
        let directory = try TestDirectory("list")
        defer { directory.remove() }
        try directory.write("root/b.bin", [1])
        try directory.write("root/a.bin", [2])
        try directory.write("root/sub/c.cfg", [3])
        try directory.makeDirectory("root/empty-dir")
        try await withServer(root: directory.path("root")) { server in
            #expect(try server.listFiles() == ["a.bin", "b.bin", "sub/c.cfg"])
            try server.deleteFile("sub/c.cfg")
            #expect(!directory.exists("root/sub/c.cfg"))
            #expect(try server.listFiles() == ["a.bin", "b.bin"])
            #expect(throws: TFTPError.fileNotFound("sub/c.cfg")) { try server.deleteFile("sub/c.cfg") }
            #expect(throws: TFTPError.fileNotFound("nope")) { try server.deleteFile("nope") }
            #expect(throws: (any Error).self) { try server.deleteFile("../outside") }
            // A deleted file is no longer served.
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("sub/c.cfg", to: address)
                #expect(client.receive(timeout: 2)?.error?.code == 1)
            }
        }
    }

    @Test("putFile from bytes, from a local file and from an AsyncStream; served byte-exact; checksums")
    func putFileThreeWays() async throws {
        let directory = try TestDirectory("put")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let fromBytes = SeededBytes.make(count: 10_000, seed: 21)
        let fromFile = SeededBytes.make(count: 300_001, seed: 22)
        let fromStream = SeededBytes.make(count: 200_000, seed: 23)
        let localFile = try directory.write("local.img", fromFile)
        try await withServer(root: directory.path("root")) { server in
            #expect(try server.putFile("bytes.bin", bytes: fromBytes) == .written)
            #expect(try server.putFile("deep/dir/file.img", contentsOf: localFile) == .written)
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            for start in stride(from: 0, to: fromStream.count, by: 7_777) {
                continuation.yield(Array(fromStream[start..<min(start + 7_777, fromStream.count)]))
            }
            continuation.finish()
            let streamHash = try await Self.sha256(fromStream, in: directory)
            #expect(try await server.putFile("stream.bin", from: stream, sha256: streamHash) == .written)
            #expect(try server.listFiles() == ["bytes.bin", "deep/dir/file.img", "stream.bin"])

            #expect(byteDifference(directory.contents("root/bytes.bin"), fromBytes) == nil)
            #expect(byteDifference(try await Self.fetch("bytes.bin", from: server), fromBytes) == nil)
            #expect(byteDifference(try await Self.fetch("deep/dir/file.img", from: server), fromFile) == nil)
            #expect(byteDifference(try await Self.fetch("stream.bin", from: server), fromStream) == nil)

            let bytesHash = try await Self.sha256(fromBytes, in: directory)
            #expect(try server.checkFileChecksum("bytes.bin", sha256: bytesHash))
            #expect(try server.checkFileChecksum("bytes.bin", sha256: bytesHash.uppercased()))
            #expect(try !server.checkFileChecksum("bytes.bin", sha256: streamHash))
            #expect(try !server.checkFileChecksum("missing.bin", sha256: bytesHash))
            #expect(directory.allEntries().allSatisfy { !$0.contains(".volley-upload-") })
        }
    }

    @Test("putFile with the same SHA-256 is skipped (.unchanged) and leaves the file alone")
    func putFileUnchanged() async throws {
        let directory = try TestDirectory("unchanged")
        defer { directory.remove() }
        let content = SeededBytes.make(count: 4096, seed: 31)
        let path = try directory.write("root/same.bin", content)
        let localFile = try directory.write("local.bin", content)
        let hash = try await Self.sha256(content, in: directory)
        try await withServer(root: directory.path("root")) { server in
            var before = stat()
            stat(path, &before)
            let fromBytes = try server.putFile("same.bin", bytes: content)
            let fromFile = try server.putFile("same.bin", contentsOf: localFile)
            #expect(fromBytes == .unchanged)
            #expect(fromFile == .unchanged)
            // With a matching sha256 the stream is not even read.
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            continuation.yield([9, 9, 9])
            continuation.finish()
            let fromStream = try await server.putFile("same.bin", from: stream, sha256: hash)
            #expect(fromStream == .unchanged)
            var after = stat()
            stat(path, &after)
            #expect(
                before.st_ino == after.st_ino && before.st_mtim.tv_sec == after.st_mtim.tv_sec
                    && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec)
            #expect(directory.contents("root/same.bin") == content)
            // Different content is written.
            let changed = try server.putFile("same.bin", bytes: content + [0])
            #expect(changed == .written)
            #expect(directory.contents("root/same.bin") == content + [0])
        }
    }

    @Test("a stream whose bytes do not match the announced SHA-256 leaves the old file")
    func putFileChecksumMismatch() async throws {
        let directory = try TestDirectory("mismatch")
        defer { directory.remove() }
        let old = Array("old".utf8)
        try directory.write("root/f.bin", old)
        let wrongHash = try await Self.sha256(Array("something else".utf8), in: directory)
        try await withServer(root: directory.path("root")) { server in
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            continuation.yield(Array("new content".utf8))
            continuation.finish()
            await #expect(throws: TFTPError.checksumMismatch("f.bin")) {
                try await server.putFile("f.bin", from: stream, sha256: wrongHash)
            }
            #expect(directory.contents("root/f.bin") == old)
            #expect(directory.allEntries().allSatisfy { !$0.contains(".volley-upload-") })
        }
    }

    @Test("putFile replaces atomically: a transfer in flight keeps the old bytes, a new fetch gets the new ones")
    func atomicReplaceDuringTransfer() async throws {
        let directory = try TestDirectory("atomic")
        defer { directory.remove() }
        let old = SeededBytes.make(count: 512 * 40 + 77, seed: 41)
        let new = SeededBytes.make(count: 512 * 25 + 3, seed: 42)
        try directory.write("root/kernel", old)
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            let received: [UInt8] = try await offload {
                let client = try RawTFTPClient()
                var replaced = false
                return try client.fetch(
                    "kernel", from: address,
                    onBlock: { block in
                        guard block == 10, !replaced else { return }
                        replaced = true
                        do {
                            #expect(try server.putFile("kernel", bytes: new) == .written)
                        } catch {
                            Issue.record("putFile failed: \(error)")
                        }
                    }
                ).bytes
            }
            #expect(byteDifference(received, old) == nil, "\(byteDifference(received, old) ?? "")")
            #expect(byteDifference(try await Self.fetch("kernel", from: server), new) == nil)
        }
    }

    @Test("removeCreatedFilesOnStop deletes only the files putFile created")
    func removeCreatedFilesOnStop() async throws {
        let directory = try TestDirectory("cleanup")
        defer { directory.remove() }
        try directory.write("root/existing.bin", [1])
        try directory.write("root/untouched.bin", [2])
        var configuration = TFTPServerConfiguration(rootDirectory: directory.path("root"), host: "127.0.0.1", port: 0)
        configuration.removeCreatedFilesOnStop = true
        let server = TFTPServer(configuration: configuration, logger: LogCapture().logger())
        try server.start()
        try server.putFile("created.bin", bytes: [3])
        try server.putFile("sub/created2.bin", bytes: [4])
        try server.putFile("existing.bin", bytes: [5, 5])
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        continuation.yield([6])
        continuation.finish()
        try await server.putFile("streamed.bin", from: stream)
        try directory.write("root/dropped-in.bin", [7])
        try server.stop()
        #expect(!directory.exists("root/created.bin"))
        #expect(!directory.exists("root/sub/created2.bin"))
        #expect(!directory.exists("root/streamed.bin"))
        #expect(directory.contents("root/existing.bin") == [5, 5])
        #expect(directory.contents("root/untouched.bin") == [2])
        #expect(directory.contents("root/dropped-in.bin") == [7])
    }

    @Test("without removeCreatedFilesOnStop, stop keeps created files")
    func keepCreatedFiles() async throws {
        let directory = try TestDirectory("keep")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let server = TFTPServer(
            configuration: TFTPServerConfiguration(rootDirectory: directory.path("root"), host: "127.0.0.1", port: 0),
            logger: LogCapture().logger())
        try server.start()
        try server.putFile("created.bin", bytes: [3])
        try server.stop()
        #expect(directory.contents("root/created.bin") == [3])
    }
}
