import Foundation
import Testing
import VolleyServer

/// Real TFTP clients fetch files from a server started in-process; every byte is compared.
@Suite("End to end: real clients")
struct RealClientTests {
    static let sizes = [0, 1, 511, 512, 513, 1 << 20]

    /// Every client with every size it can fetch (curl with options cannot fetch an empty file).
    static let cases: [(RealClient, Int)] = RealClient.allCases.filter { $0 != .atftpBlockSize512Window16 }.flatMap { client in
        sizes.filter { $0 > 0 || client.fetchesEmptyFiles }.map { (client, $0) }
    }

    @Test("client fetches a file byte-exact", arguments: cases)
    func fetch(client: RealClient, size: Int) async throws {
        let directory = try TestDirectory("client")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let content = SeededBytes.make(count: size, seed: UInt64(size) &+ 17)
        try directory.write("root/file-\(size).bin", content)
        let logs = LogCapture()
        try await withServer(root: directory.path("root"), logs: logs) { server in
            let output = directory.path("out.bin")
            let (_, failure) = try await client.fetch(port: server.port, name: "file-\(size).bin", output: output)
            #expect(failure == nil, "\(failure ?? "")")
            #expect(
                byteDifference(directory.contents("out.bin"), content) == nil,
                "\(byteDifference(directory.contents("out.bin"), content) ?? "")")
            // The server's transfer line shows the options the client really got.
            let line = try await waitForLogLine(logs, containing: "\"file-\(size).bin\" octet")
            #expect(line?.contains(client.expectedLogFragment) == true, "log line: \(line ?? "none")")
            #expect(line?.hasSuffix("delivered") == true, "log line: \(line ?? "none")")
        }
    }

    @Test("a file in a subdirectory", arguments: [RealClient.curl, .tftpHPA, .atftp])
    func subdirectory(client: RealClient) async throws {
        let directory = try TestDirectory("subdir")
        defer { directory.remove() }
        let content = SeededBytes.make(count: 3000, seed: 99)
        try directory.write("root/boot/efi/grubx64.efi", content)
        try directory.write("root/grubx64.efi", SeededBytes.make(count: 3000, seed: 100))
        try await withServer(root: directory.path("root")) { server in
            let (_, failure) = try await client.fetch(port: server.port, name: "boot/efi/grubx64.efi", output: directory.path("out"))
            #expect(failure == nil, "\(failure ?? "")")
            #expect(byteDifference(directory.contents("out"), content) == nil)
        }
    }

    @Test("tftp-hpa netascii: LF, bare CR and CR LF survive the round trip")
    func netascii() async throws {
        let directory = try TestDirectory("ascii")
        defer { directory.remove() }
        var content: [UInt8] = []
        // Long enough to cross several 512-byte blocks, so conversions straddle block boundaries.
        for i in 0..<200 {
            content += Array("line \(i)\n".utf8) + Array("bare\rcr".utf8) + Array(" crlf\r\n".utf8)
            if i % 7 == 0 { content += [13] }
            if i % 11 == 0 { content += [13, 13, 10, 10] }
        }
        content += [13]  // a bare CR as the very last byte
        try directory.write("root/text.cfg", content)
        let logs = LogCapture()
        try await withServer(root: directory.path("root"), logs: logs) { server in
            let result = try await runProcess(
                "tftp", arguments: ["127.0.0.1", String(server.port), "-m", "ascii", "-c", "get", "text.cfg", directory.path("out")])
            #expect(!result.timedOut && result.stdout.isEmpty && result.stderr.isEmpty, "\(result)")
            #expect(
                byteDifference(directory.contents("out"), content) == nil,
                "\(byteDifference(directory.contents("out"), content) ?? "")")
            let line = try await waitForLogLine(logs, containing: "\"text.cfg\" netascii")
            #expect(line?.hasSuffix("delivered") == true, "log line: \(line ?? "none")")
        }
    }

    @Test(
        "a file over 32 MiB at blksize 512: block numbers roll over", .timeLimit(.minutes(2)),
        arguments: [RealClient.tftpHPA, .atftpBlockSize512Window16])
    func blockNumberRollover(client: RealClient) async throws {
        let directory = try TestDirectory("rollover")
        defer { directory.remove() }
        // 65535 blocks of 512 bytes = 32 MiB - 512; this is 66000+ blocks.
        let content = SeededBytes.make(count: 32 * 1024 * 1024 + 250_123, seed: 0x5EED)
        try directory.write("root/big.img", content)
        try await withServer(root: directory.path("root")) { server in
            let (_, failure) = try await client.fetch(port: server.port, name: "big.img", output: directory.path("out"), timeout: 90)
            #expect(failure == nil, "\(failure ?? "")")
            #expect(
                byteDifference(directory.contents("out"), content) == nil,
                "\(byteDifference(directory.contents("out"), content) ?? "")")
        }
    }
}

/// Waits up to `timeout` seconds for a captured log line containing `fragment`.
func waitForLogLine(_ logs: LogCapture, containing fragment: String, timeout: Double = 3) async throws -> String? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let line = logs.all.first(where: { $0.contains(fragment) }) { return line }
        try await Task.sleep(for: .milliseconds(20))
    }
    return nil
}
