import Foundation
import Glibc
import Testing

/// The control plane of a socket-activated, sd_notify-speaking volley: what a CI job does
/// against the packaged service.
@Suite("systemd: the control plane of a socket-activated service", .serialized, .timeLimit(.minutes(2)))
struct ControlUnderSystemdTests {
    @Test("CI job: session, put, a board fetches by TFTP, Prometheus sees it, close removes it; stop/start on the passed socket")
    func ciJobAgainstSocketActivatedService() async throws {
        let scratch = try TestDirectory("cps")
        defer { scratch.remove() }
        try scratch.write("root/probe.bin", [1, 2, 3])
        let kernel = SeededBytes.make(count: 900_000, seed: 31)
        let local = try scratch.write("vmlinuz", kernel)
        let socket = scratch.path("control.sock")
        let notify = try NotifySocketListener(path: scratch.path("notify.sock"))
        defer { notify.close() }
        let port = try freeLoopbackUDPPort()
        let service = try ServiceProcess(
            try VolleyBinaries.program("systemd-socket-activate"),
            [
                "--datagram", "-l", "127.0.0.1:\(port)", "--fdname=tftp", "-E", "NOTIFY_SOCKET=\(notify.path)",
                try VolleyBinaries.volley(), "serve", "--root", scratch.path("root"), "--control-listen", "unix:\(socket)",
            ],
            timeout: 90)
        defer { service.killIfRunning() }
        try #require(try await waitUntilBound(port: port, timeout: 60), "not bound; \(service.stderrText)")
        // The first datagram starts volley.
        #expect(try await curlFetch(port: port, name: "probe.bin", output: scratch.path("probe")) == nil)
        try #require(try await service.waitForLine(containing: "control plane listening", timeout: 60) != nil, "\(service.stderrText)")

        func volley(_ arguments: [String], session: String? = nil) async throws -> ProcessResult {
            var environment = ProcessInfo.processInfo.environment
            environment["VOLLEY_SERVER"] = socket
            if let session { environment["VOLLEY_SESSION"] = session }
            return try await runProcess(try VolleyBinaries.volley(), arguments: arguments, timeout: 60, environment: environment)
        }
        func http(_ method: String, _ path: String) async throws -> String {
            try await runProcess("curl", arguments: ["-s", "-X", method, "--unix-socket", socket, "http://localhost\(path)"], timeout: 30)
                .stdout
        }

        let session = try await volley(["session", "open", "--ttl", "300"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(session.count == 32, "session id: \(session)")
        let put = try await volley(["files", "put", local, "boot/vmlinuz"], session: session)
        #expect(put.status == 0, "\(put)")
        let fetched = try await curlFetch(port: port, name: "boot/vmlinuz", output: scratch.path("board"), blockSize: 1468)
        #expect(fetched == nil, "\(fetched ?? "")")
        #expect(scratch.contents("board") == kernel, "the board did not get the uploaded kernel")
        try await Task.sleep(for: .milliseconds(200))
        let metrics = PrometheusText(try await http("GET", "/metrics"))
        #expect(metrics.value("volley_transfers_total", ["outcome": "delivered"]) == 2)
        #expect(metrics.bytesSentMatch(payload: kernel.count + 3, blockSize: 1468))
        let closed = try await volley(["session", "close", session])
        #expect(closed.stdout.contains("removed boot/vmlinuz"), "\(closed)")
        #expect(!scratch.exists("root/boot/vmlinuz"))

        // Stopping the listener through the API is not the service stopping: no STOPPING=1.
        let beforeStop = notify.messages.count
        #expect(try await http("POST", "/v1/server/stop").contains("\"port\""))
        var running = true
        for _ in 0..<100 where running {
            running = try await http("GET", "/v1/server").contains("\"running\" : true")
            if running { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(!running)
        #expect(notify.messages.contains { $0.has("READY=1") }, "sd_notify did not reach the test: \(notify.transcript)")
        #expect(!notify.messages.dropFirst(beforeStop).contains { $0.has("STOPPING=1") }, "\(notify.transcript)")
        // Started again, it serves on the socket systemd passed, the same port.
        #expect(try await http("POST", "/v1/server/start").contains("\"port\" : \(port)"))
        #expect(try await curlFetch(port: port, name: "probe.bin", output: scratch.path("probe2")) == nil)
        #expect(scratch.contents("probe2") == [1, 2, 3])

        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
        let stopping = try await notify.waitFor(from: beforeStop, timeout: 2) { $0.has("STOPPING=1") }
        #expect(stopping != nil, "no STOPPING=1 on SIGTERM; notifications:\n\(notify.transcript)")
    }
}
