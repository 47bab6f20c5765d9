import Foundation
import Testing
import VolleyServer

/// Every real client against the other transport modes: single-port (all transfers on the
/// listening socket), windows without UDP GSO, and transfer sockets read and written one
/// system call each (epoll) instead of through io_uring. The default mode is covered by
/// ``RealClientTests``.
@Suite("End to end: real clients in single-port mode, without GSO and without io_uring")
struct ServerModeTests {
    static let cases: [(ServerMode, RealClient)] = [ServerMode.singlePort, .withoutSegmentationOffload, .withoutIOUring].flatMap { mode in
        RealClient.allCases.map { (mode, $0) }
    }

    @Test("client fetches a file byte-exact", arguments: cases)
    func fetch(mode: ServerMode, client: RealClient) async throws {
        let directory = try TestDirectory("mode")
        defer { directory.remove() }
        // Not a multiple of any block size the clients use, and several windows long.
        let content = SeededBytes.make(count: 700_001, seed: 4242)
        try directory.write("root/boot/image.bin", content)
        let logs = LogCapture()
        try await withServer(root: directory.path("root"), logs: logs, configure: mode.apply(to:)) { server in
            let (_, failure) = try await client.fetch(port: server.port, name: "boot/image.bin", output: directory.path("out.bin"))
            #expect(failure == nil, "\(failure ?? "")")
            #expect(
                byteDifference(directory.contents("out.bin"), content) == nil,
                "\(byteDifference(directory.contents("out.bin"), content) ?? "")")
            let line = try await waitForLogLine(logs, containing: "\"boot/image.bin\" octet")
            #expect(line?.contains(client.expectedLogFragment) == true, "log line: \(line ?? "none")")
            #expect(line?.hasSuffix("delivered") == true, "log line: \(line ?? "none")")
        }
    }

    @Test("host :: serves IPv4 and IPv6 clients on one socket", arguments: [ServerMode.perTransferSockets, .singlePort])
    func dualStack(mode: ServerMode) async throws {
        let directory = try TestDirectory("dualstack")
        defer { directory.remove() }
        let content = SeededBytes.make(count: 200_003, seed: 66)
        try directory.write("root/both.bin", content)
        try await withServer(root: directory.path("root"), host: "::", configure: mode.apply(to:)) { server in
            for (host, output) in [("127.0.0.1", "out4"), ("::1", "out6")] {
                let (_, failure) = try await RealClient.curlBlockSize1468.fetch(
                    host: host, port: server.port, name: "both.bin",
                    output: directory.path(output))
                #expect(failure == nil, "\(host): \(failure ?? "")")
                #expect(byteDifference(directory.contents(output), content) == nil, "\(host)")
            }
        }
    }
}
