import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleyReactor
import VolleySystem
import VolleyServer

/// Files past 4 GiB: 64-bit offsets and tsize.
@Suite("End to end: large files")
struct LargeFileTests {
    static let size: Int64 = 5 * 1024 * 1024 * 1024

    /// A sparse 5 GiB file with recognisable bytes at the start, around the 4 GiB mark and at the end.
    static func makeSparseFile(_ path: String) throws {
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw TestFailure("ftruncate: errno \(errno)") }
        let marks: [(Int64, UInt64)] = [(0, 1), (1 << 32 - 100_000, 2), (1 << 32 + 65_000, 3), (size - 200_000, 4)]
        for (offset, seed) in marks {
            let bytes = SeededBytes.make(count: 150_000, seed: seed)
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard written == bytes.count else { throw TestFailure("pwrite: errno \(errno)") }
        }
    }

    @Test("a sparse 5 GiB file: tsize 5368709120 and every byte via curl at blksize 65464", .timeLimit(.minutes(6)))
    func fiveGiB() async throws {
        let directory = try TestDirectory("5gib")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let path = directory.path("root/disk.img")
        try Self.makeSparseFile(path)
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            // tsize from the OACK of a raw RRQ, then abort like a UEFI size probe.
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("disk.img", options: [("tsize", "0"), ("blksize", "65464")], to: address)
                let oack = try #require(client.receive(timeout: 2))
                #expect(
                    oack.packet
                        == .optionAcknowledgement([
                            TFTPOption(name: "tsize", value: "5368709120"), TFTPOption(name: "blksize", value: "65464"),
                        ]))
                client.send(.error(code: .optionNegotiationFailed, message: "probe"), to: oack.source)
            }
            // The whole file through curl, compared by cmp without landing on disk. About 80 s alone;
            // the bounds leave room for a loaded machine (150 s ran out beside the suite and two CPU hogs).
            let pipe = try makeCloseOnExecPipe()
            let curl = try RunningProcess(
                "curl", arguments: ["-s", "-S", "--tftp-blksize", "65464", "-o", "-", "tftp://127.0.0.1:\(server.port)/disk.img"],
                timeout: 330, standardOutput: pipe.write)
            let cmp = try RunningProcess("cmp", arguments: ["-", path], timeout: 330, standardInput: pipe.read)
            try? pipe.read.close()
            try? pipe.write.close()
            let started = Date()
            let curlResult = try await curl.wait()
            let cmpResult = try await cmp.wait()
            let seconds = Date().timeIntervalSince(started)
            #expect(curlResult.status == 0 && !curlResult.timedOut, "curl: \(curlResult)")
            #expect(cmpResult.status == 0 && !cmpResult.timedOut, "cmp: \(cmpResult)")
            print("5 GiB via curl at blksize 65464 took \(Int(seconds)) s")
            let statistics = try await server.waitUntilIdle(timeout: 2)
            #expect(statistics.completedTransfers == 1)
            #expect(statistics.bytesSent >= UInt64(Self.size))
        }
    }
}
