import Foundation
import Glibc
import Testing

/// The TFTP service, health, metrics and access control through the control plane.
@Suite("control plane: service, metrics, access", .serialized, .timeLimit(.minutes(3)))
struct ControlServerTests {
    @Test("stop drains and stops the TFTP listener while the control plane stays; start brings it back")
    func stopAndStart() async throws {
        let fixture = try await ControlPlaneFixture("cp-stop")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/a.bin", SeededBytes.make(count: 5000, seed: 9))
        let status = try await fixture.curl("GET", "/v1/server")
        #expect(status.json?["running"] as? Bool == true)
        #expect(status.json?["port"] as? Int == fixture.tftpPort)
        #expect(status.json?["host"] as? String == "127.0.0.1")

        #expect(try await fixture.curl("POST", "/v1/server/stop").status == 200)
        var running = true
        for _ in 0..<100 where running {
            running = try await fixture.curl("GET", "/v1/server").json?["running"] as? Bool ?? true
            if running { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(!running, "the listener did not stop")
        let port = fixture.tftpPort
        let refused = try await offload { try? RawTFTPClient().fetch("a.bin", from: loopback(port: port), timeout: 1) }
        #expect(refused == nil, "a stopped server still answered TFTP")
        let again = try await fixture.curl("POST", "/v1/server/stop")
        #expect(again.status == 409)
        #expect(again.json?["error"] as? String == "ServerNotRunning", "\(again.text)")
        let health = try await fixture.curl("GET", "/healthz")
        #expect(health.json?["status"] as? String == "stopped")

        let started = try await fixture.curl("POST", "/v1/server/start")
        #expect(started.status == 200, "\(started.text)")
        let newPort = started.json?["port"] as? Int ?? 0
        let fetched = try await offload { try RawTFTPClient().fetch("a.bin", from: loopback(port: newPort)) }
        #expect(fetched.bytes == SeededBytes.make(count: 5000, seed: 9))
        #expect(try await fixture.curl("POST", "/v1/server/start").json?["error"] as? String == "ServerAlreadyRunning")
    }

    @Test("--start-stopped: only the control plane serves (files included) until POST /v1/server/start")
    func startStopped() async throws {
        let fixture = try await ControlPlaneFixture("cp-start-stopped", startStopped: true)
        defer { fixture.stop() }
        #expect(fixture.service.lines(containing: "serving ").isEmpty, "TFTP started: \(fixture.service.stderrText)")
        #expect(try await fixture.curl("GET", "/v1/server").json?["running"] as? Bool == false)
        #expect(try await fixture.curl("PUT", "/v1/files/boot/a.bin", body: [1, 2, 3]).status == 201)
        #expect(try await fixture.curl("GET", "/v1/files/boot/a.bin").body == [1, 2, 3])

        let started = try await fixture.curl("POST", "/v1/server/start")
        #expect(started.status == 200, "\(started.text)")
        let port = try #require(started.json?["port"] as? Int)
        let fetched = try await offload { try RawTFTPClient().fetch("boot/a.bin", from: loopback(port: port)) }
        #expect(fetched.bytes == [1, 2, 3])
        // SIGTERM still ends it cleanly (the fixture's stop), as with a server started at once.
        fixture.service.send(SIGTERM)
        #expect(try await fixture.service.waitForExit(timeout: 20).isCleanExit, "\(fixture.service.stderrText)")
    }

    @Test("--start-stopped needs control_listen, and still checks the settings at start, in one line")
    func startStoppedRefusals() async throws {
        let scratch = try TestDirectory("cp-start-stopped-refused")
        defer { scratch.remove() }
        try scratch.makeDirectory("root")
        let alone = try await runProcess(
            try VolleyBinaries.volley(), arguments: ["serve", "--root", scratch.path("root"), "--port", "0", "--start-stopped"],
            timeout: 30)
        #expect(alone.status == 1 && alone.stderr.contains("Error: cannot start: start_stopped needs control_listen"), "\(alone)")
        let bad = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "serve", "--root", scratch.path("root"), "--port", "0", "--start-stopped", "--max-window-size", "0",
                "--control-listen", "unix:\(scratch.path("c.sock"))",
            ], timeout: 30)
        #expect(bad.status == 1 && bad.stderr.contains("Error: cannot start: invalid configuration: maximum window size 0"), "\(bad)")
    }

    @Test("/healthz reports the age of the reactor's last heartbeat")
    func health() async throws {
        let fixture = try await ControlPlaneFixture("cp-health")
        defer { fixture.stop() }
        try await Task.sleep(for: .milliseconds(1200))
        let answer = try await fixture.curl("GET", "/healthz")
        #expect(answer.status == 200)
        #expect(answer.json?["status"] as? String == "ok", "\(answer.text)")
        let age = answer.json?["heartbeat_age_seconds"] as? Double ?? -1
        #expect(age >= 0 && age < 2, "\(answer.text)")
    }

    @Test("/metrics counts exactly the transfers made, their bytes and the refusals")
    func metricsMatchTransfers() async throws {
        let fixture = try await ControlPlaneFixture("cp-metrics")
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 10_000, seed: 10)
        _ = try fixture.scratch.write("root/m.bin", content)
        let port = fixture.tftpPort
        for _ in 0..<3 {
            let fetched = try await offload {
                try RawTFTPClient().fetch("m.bin", options: [("blksize", "1024")], from: loopback(port: port))
            }
            #expect(fetched.bytes == content)
        }
        _ = try await offload { try? RawTFTPClient().fetch("missing.bin", from: loopback(port: port), timeout: 1) }
        _ = try await fixture.curl("GET", "/v1/files")
        try await Task.sleep(for: .milliseconds(200))
        let text = try await fixture.curl("GET", "/metrics").text
        let samples = PrometheusText(text)
        #expect(samples.value("volley_transfers_total", ["outcome": "delivered"]) == 3, "\(text)")
        #expect(samples.bytesSentMatch(payload: 30_000, blockSize: 1024), "\(text)")
        #expect(samples.value("volley_transfers_active") == 0)
        #expect(samples.value("volley_requests_refused_total", ["code": "1", "reason": "file_not_found"]) == 1)
        #expect(samples.value("volley_transfer_duration_seconds_count") == 3)
        #expect(
            samples.value("volley_negotiated_block_size_bucket", ["le": "1024.0"]) == 3
                || samples.value("volley_negotiated_block_size_bucket", ["le": "1024"]) == 3, "\(text)")
        #expect(samples.value("volley_control_requests_total", ["method": "GET", "status": "200"]) ?? 0 >= 1)
    }

    @Test("With a token file every request needs the bearer token: 401 without it or with a wrong one")
    func tokenIsRequired() async throws {
        let fixture = try await ControlPlaneFixture("cp-token", listen: "127.0.0.1:0", token: "s3cret-token")
        defer { fixture.stop() }
        #expect(fixture.server.hasPrefix("http://127.0.0.1:"))
        for path in ["/v1/files", "/v1/server", "/metrics", "/healthz"] {
            #expect(try await fixture.curl("GET", path, token: "").status == 401, "\(path) without a token")
            #expect(try await fixture.curl("GET", path, token: "s3cret-tokeN").status == 401, "\(path) with a wrong token")
            #expect(try await fixture.curl("GET", path, token: "s3cret-token-longer").status == 401)
        }
        #expect(try await fixture.curl("PUT", "/v1/files/x", body: [1], token: "nope").status == 401)
        #expect(!fixture.scratch.exists("root/x"))
        #expect(try await fixture.curl("GET", "/v1/files").status == 200)
        #expect(try await fixture.curl("PUT", "/v1/files/x", body: [1]).status == 201)
    }

    @Test("A reload re-reads the token file: the new token works, the old one gets 401; an empty file changes nothing")
    func tokenIsReadAgainOnReload() async throws {
        let fixture = try await ControlPlaneFixture("cp-token-reload", listen: "127.0.0.1:0", token: "first-token")
        defer { fixture.stop() }
        #expect(try await fixture.curl("GET", "/v1/files", token: "first-token").status == 200)
        _ = try fixture.scratch.write("token", Array("second-token\n".utf8))
        #expect(try await fixture.curl("GET", "/v1/files", token: "first-token").status == 200, "no reload yet")
        #expect(try await fixture.curl("POST", "/v1/reload", token: "first-token").status == 200)
        #expect(try await fixture.curl("GET", "/v1/files", token: "first-token").status == 401)
        #expect(try await fixture.curl("GET", "/v1/files", token: "second-token").status == 200)

        // An empty token file is refused; the token in use stays, and SIGHUP takes the same path.
        _ = try fixture.scratch.write("token", Array("\n".utf8))
        let refused = try await fixture.curl("POST", "/v1/reload", token: "second-token")
        #expect(refused.status != 200 && refused.text.contains("control_token_file"), "\(refused.status) \(refused.text)")
        #expect(try await fixture.curl("GET", "/v1/files", token: "second-token").status == 200)
        _ = try fixture.scratch.write("token", Array("third-token".utf8))
        fixture.service.send(SIGHUP)
        var answer = 0
        for _ in 0..<100 {
            answer = try await fixture.curl("GET", "/v1/files", token: "third-token").status
            if answer == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(answer == 200)
        #expect(try await fixture.curl("GET", "/v1/files", token: "second-token").status == 401)
    }

    @Test("A non-loopback control address without a token file is refused at start, in one line")
    func nonLoopbackNeedsToken() async throws {
        let scratch = try TestDirectory("cp-refuse")
        defer { scratch.remove() }
        try scratch.makeDirectory("root")
        for address in ["0.0.0.0:0", "[::]:0"] {
            let result = try await runProcess(
                try VolleyBinaries.volley(),
                arguments: [
                    "serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0", "--control-listen", address,
                ], timeout: 30)
            #expect(result.status != 0 && !result.timedOut, "\(result)")
            let lines = result.stderr.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" notice ") }
            #expect(lines.count == 1 && lines.first?.contains("control_token_file") == true, "\(result.stderr)")
        }
        let bad = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "serve", "--root", scratch.path("root"), "--port", "0", "--control-listen", "nonsense",
            ], timeout: 30)
        #expect(bad.status != 0 && bad.stderr.contains("control_listen"), "\(bad)")
    }
}

/// Samples of a Prometheus text exposition.
struct PrometheusText {
    private var samples: [(name: String, labels: [String: String], value: Double)] = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = String(series[..<open])
                for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { labels[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                }
            }
            samples.append((name, labels, value))
        }
    }

    /// The value of the series `name` whose labels include `labels`, summed over the rest.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }
}

extension PrometheusText {
    /// Whether `volley_bytes_sent_total` is `payload` plus at most the retransmitted blocks
    /// (a loaded machine may retransmit; the counter includes what went out again).
    func bytesSentMatch(payload: Int, blockSize: Int) -> Bool {
        guard let sent = value("volley_bytes_sent_total") else { return false }
        let retransmitted = value("volley_retransmissions_total") ?? 0
        return sent >= Double(payload) && sent <= Double(payload) + retransmitted * Double(blockSize)
    }
}
