import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleySystem

/// Out of descriptors (`prlimit --nofile=48`): new requests get ERROR 0 "Server busy",
/// logged at most once a second, and service resumes when descriptors come back.
@Suite("systemd: running out of descriptors", .serialized, .timeLimit(.minutes(2)))
struct DescriptorExhaustionTests {
    @Test("EMFILE answers Server busy without crashing, and service resumes")
    func exhaustionIsSurvived() async throws {
        let scratch = try TestDirectory("nf")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 3000, seed: 51)
        for i in 0..<80 { try scratch.write("root/f\(i).bin", content) }
        let service = try ServiceProcess(
            try VolleyBinaries.program("prlimit"),
            [
                "--nofile=48:48", try VolleyBinaries.volley(), "serve", "--root", scratch.path("root"),
                "--host", "127.0.0.1", "--port", "0", "--retransmit-timeout", "5000",
            ],
            timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        let (started, busy, resumed): (Int, Int, Bool) = try await offload {
            // 80 clients that take block 1 and then stall hold a socket and a file each.
            let clients = try (0..<80).map { _ in try RawTFTPClient() }
            for (i, client) in clients.enumerated() { client.sendReadRequest("f\(i).bin", to: loopback(port: port)) }
            var started = 0, busy = 0
            var stalled: [(RawTFTPClient, SocketAddress)] = []
            // One 3 s window for all replies (waiting 2 s on each silent client took a minute).
            let deadline = Date().addingTimeInterval(3)
            for client in clients {
                guard let reply = client.receive(timeout: max(0.02, deadline.timeIntervalSinceNow)) else { continue }
                switch reply.packet {
                case .data(1, _)?:
                    started += 1
                    stalled.append((client, reply.source))
                case .error(let code, let message)? where code == .notDefined && message == "Server busy, try again": busy += 1
                default: break
                }
            }
            // Give the descriptors back: abort the stalled transfers.
            for (client, source) in stalled { client.send(.error(code: .notDefined, message: "bye"), to: source) }
            // Then fetch as a real client would: asking again while there is no answer (the
            // per-source request and error buckets that the 80 drained refill within a second or
            // two, and a loaded machine may take that long to close the aborted transfers).
            var resumed = false
            for _ in 0..<10 where !resumed {
                usleep(300_000)
                resumed = (try? RawTFTPClient().fetch("f0.bin", from: loopback(port: port), timeout: 2))?.bytes == content
            }
            return (started, busy, resumed)
        }
        #expect(started > 0 && busy > 0, "started \(started), busy \(busy); stderr:\n\(service.stderrText)")
        // All 80 come from 127.0.0.1: beyond the error-reply burst (40) the rest are dropped
        // silently, and a real client would retry. The bucket refills 20 a second while the
        // reactors work through the burst (up to a quarter second on a loaded machine): 45.
        #expect(started + busy <= 80 && busy <= 45, "started \(started), busy \(busy)")
        #expect(resumed, "no service after the descriptors came back; stderr:\n\(service.stderrText)")
        #expect(service.isRunning)
        let warnings = service.lines(containing: "out of descriptors")
        #expect((1...3).contains(warnings.count), "logged at most once a second: \(warnings.count)")
    }
}
