import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleySystem

/// A reload that changes how transfers use sockets must not break the transfers in flight.
@Suite("systemd: reloading the socket mode", .serialized, .timeLimit(.minutes(2)))
struct ReloadModeTests {
    @Test("SIGHUP turning single_port off lets a single-port transfer in flight finish byte-exact", arguments: [true, false])
    func reloadSinglePortKeepsTransfersInFlight(startsSinglePort: Bool) async throws {
        let scratch = try TestDirectory("sp")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 40 * 512 + 100, seed: 21)
        try scratch.write("root/slow.bin", content)
        let base = "root_dir: \(scratch.path("root"))\nhost: \"127.0.0.1\"\nport: 0\n"
        try scratch.write("volley.yaml", Array((base + "single_port: \(startsSinglePort)\n").utf8))
        let service = try ServiceProcess(try VolleyBinaries.volley(), ["serve", "--config", scratch.path("volley.yaml")], timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        let fetched: Result<[UInt8], any Error> = await Task.detached {
            Result {
                try RawTFTPClient().slowFetch("slow.bin", serverPort: port, ackDelay: 0.01) { block in
                    if block == 5 {
                        _ = try? scratch.write("volley.yaml", Array((base + "single_port: \(!startsSinglePort)\n").utf8))
                        service.send(SIGHUP)
                        usleep(300_000)  // the reload is in force before the next ACK goes out
                    }
                }
            }
        }.value
        switch fetched {
        case .success(let bytes): #expect(bytes == content, "the transfer in flight did not deliver the file")
        case .failure(let error): Issue.record("the transfer in flight broke after the reload: \(error)\nstderr:\n\(service.stderrText)")
        }
        let reloaded = try await service.waitForLine(containing: "configuration reloaded", timeout: 5)
        #expect(reloaded != nil, "stderr:\n\(service.stderrText)")
        // New transfers use the new mode and work too.
        let again = try await offload { try RawTFTPClient().fetch("slow.bin", from: loopback(port: port)) }
        #expect(again.bytes == content)
    }
}
