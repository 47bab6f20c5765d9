import Foundation
import Glibc
import Testing

/// Sessions (Jumpstarter's remove_created_on_close) and fetching from a URL.
@Suite("control plane: sessions and fetch", .serialized, .timeLimit(.minutes(3)))
struct ControlSessionTests {
    @Test("A session's uploads are removed when it is deleted, and when it expires without a heartbeat")
    func sessionsRemoveTheirFiles() async throws {
        let fixture = try await ControlPlaneFixture("cp-session")
        defer { fixture.stop() }
        // Renewal is checked through the deadline the server reports, not by racing a short
        // time to live: on a loaded machine a curl can take seconds to start (CI once lost a
        // 12 s session before its first 4 s heartbeat ran).
        let opened = try await fixture.curl("POST", "/v1/sessions?ttl_seconds=600")
        #expect(opened.status == 201, "\(opened.text)")
        let id = try #require(opened.json?["id"] as? String)
        #expect(opened.json?["ttl_seconds"] as? Int == 600)
        #expect(try await fixture.curl("PUT", "/v1/files/s/one.img", body: [1, 2], headers: ["X-Volley-Session: \(id)"]).status == 201)
        _ = try fixture.scratch.write("root/keep.img", [9])
        #expect(try await fixture.curl("PUT", "/v1/files/keep.img", body: [3], headers: ["X-Volley-Session: nosuchsession"]).status == 404)
        #expect(fixture.scratch.contents("root/keep.img") == [9], "an upload with an unknown session was stored")

        try await Task.sleep(for: .milliseconds(1500))
        let aged = try await fixture.curl("GET", "/v1/sessions/\(id)")
        let agedLeft = try #require(aged.json?["expires_in_seconds"] as? Double, "\(aged.text)")
        #expect(agedLeft <= 598.5, "the deadline did not move with time: \(aged.text)")
        #expect(aged.json?["files"] as? [String] == ["s/one.img"], "\(aged.text)")
        let renewed = try await fixture.curl("POST", "/v1/sessions/\(id)/heartbeat")
        #expect(renewed.status == 200, "\(renewed.text)")
        let renewedLeft = try #require(renewed.json?["expires_in_seconds"] as? Double, "\(renewed.text)")
        #expect(
            renewedLeft > agedLeft + 1 && renewedLeft <= 600,
            "a heartbeat did not push the deadline back to the full 600 s: \(aged.text) then \(renewed.text)")
        #expect(fixture.scratch.exists("root/s/one.img"))
        #expect(try await fixture.curl("DELETE", "/v1/sessions/\(id)").status == 200)

        // A session that gets no heartbeat expires, and its upload goes (the expiry loop runs
        // once a second); files it did not upload stay.
        let short = try #require(try await fixture.curl("POST", "/v1/sessions?ttl_seconds=3").json?["id"] as? String)
        let upload = try await fixture.curl("PUT", "/v1/files/s/two.img", body: [4], headers: ["X-Volley-Session: \(short)"])
        if upload.status == 201 {
            var gone = false
            for _ in 0..<300 where !gone {
                try await Task.sleep(for: .milliseconds(100))
                gone = !fixture.scratch.exists("root/s/two.img")
            }
            #expect(gone, "the expired session's file was not removed")
        } else {
            // Only a machine too loaded to run one curl within 3 s gets here; the
            // session was gone before the upload, and the upload was refused for it.
            #expect(upload.status == 404, "\(upload.text)")
            #expect(!fixture.scratch.exists("root/s/two.img"))
        }
        #expect(fixture.scratch.contents("root/keep.img") == [9])
        #expect(try await fixture.curl("POST", "/v1/sessions/\(short)/heartbeat").status == 404)

        // Deleting a session removes only what it uploaded and still holds.
        let second = try #require(try await fixture.curl("POST", "/v1/sessions").json?["id"] as? String)
        #expect(try await fixture.curl("PUT", "/v1/files/a.img", body: [1], headers: ["X-Volley-Session: \(second)"]).status == 201)
        #expect(try await fixture.curl("PUT", "/v1/files/b.img", body: [2], headers: ["X-Volley-Session: \(second)"]).status == 201)
        #expect(try await fixture.curl("PUT", "/v1/files/b.img", body: [3]).status == 200)  // someone else replaced it
        let ended = try await fixture.curl("DELETE", "/v1/sessions/\(second)")
        #expect(ended.status == 200)
        #expect(ended.json?["removed"] as? [String] == ["a.img"], "\(ended.text)")
        #expect(!fixture.scratch.exists("root/a.img"))
        #expect(fixture.scratch.contents("root/b.img") == [3])
        #expect(try await fixture.curl("DELETE", "/v1/sessions/\(second)").status == 404)
    }

    @Test("A session removes what it created, never a file that was there before, and the directories it made once empty")
    func sessionsRemoveOnlyWhatTheyCreated() async throws {
        let fixture = try await ControlPlaneFixture("cp-session-own")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/old.img", [1])
        try fixture.scratch.makeDirectory("root/kept")
        let id = try #require(try await fixture.curl("POST", "/v1/sessions").json?["id"] as? String)
        let session = ["X-Volley-Session: \(id)"]
        #expect(try await fixture.curl("PUT", "/v1/files/old.img", body: [2], headers: session).status == 200)
        #expect(try await fixture.curl("PUT", "/v1/files/new.img", body: [3], headers: session).status == 201)
        #expect(try await fixture.curl("PUT", "/v1/files/new.img", body: [4], headers: session).status == 200)  // still its own
        #expect(try await fixture.curl("PUT", "/v1/files/boot/efi/grub.efi", body: [5], headers: session).status == 201)
        #expect(try await fixture.curl("PUT", "/v1/files/kept/inner.img", body: [6], headers: session).status == 201)
        #expect(try await fixture.curl("PUT", "/v1/files/shared/a.img", body: [7], headers: session).status == 201)
        _ = try fixture.scratch.write("root/shared/someone-else.img", [8])
        let created = ["boot/efi/grub.efi", "kept/inner.img", "new.img", "shared/a.img"]
        let listed = try await fixture.curl("GET", "/v1/sessions/\(id)")
        #expect(listed.json?["files"] as? [String] == created, "\(listed.text)")

        let ended = try await fixture.curl("DELETE", "/v1/sessions/\(id)")
        #expect(ended.json?["removed"] as? [String] == created, "\(ended.text)")
        #expect(fixture.scratch.contents("root/old.img") == [2], "a file that existed before the session was removed")
        #expect(!fixture.scratch.exists("root/new.img"))
        #expect(!fixture.scratch.exists("root/boot"), "the directories made for boot/efi/grub.efi stayed")
        #expect(fixture.scratch.exists("root/kept"), "a directory that existed before was removed")
        #expect(fixture.scratch.contents("root/shared/someone-else.img") == [8])
    }

    @Test("POST /v1/files/{path} pulls from an http:// URL (checked against sha256) and from file://")
    func fetchFromURL() async throws {
        let fixture = try await ControlPlaneFixture("cp-fetch", extraArguments: ["--control-allow-file-urls"])
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 1_500_000, seed: 11)
        _ = try fixture.scratch.write("origin/images/kernel.img", content)
        let origin = try await LocalHTTPServer(directory: fixture.scratch.path("origin"))
        defer { origin.stop() }
        let digest = try await sha256sum(content, scratch: fixture.scratch)

        func post(_ object: [String: String], to name: String) async throws -> ControlPlaneFixture.Answer {
            let body = try JSONSerialization.data(withJSONObject: object)
            return try await fixture.curl("POST", "/v1/files/\(name)", body: [UInt8](body), headers: ["Content-Type: application/json"])
        }
        let fetched = try await post(["url": "http://127.0.0.1:\(origin.port)/images/kernel.img", "sha256": digest], to: "boot/kernel.img")
        #expect(fetched.status == 201, "\(fetched.text)")
        #expect(fixture.scratch.contents("root/boot/kernel.img") == content)
        let skipped = try await post(["url": "http://127.0.0.1:\(origin.port)/images/kernel.img", "sha256": digest], to: "boot/kernel.img")
        #expect(skipped.json?["skipped"] as? Bool == true, "\(skipped.text)")

        let wrong = try await post(
            ["url": "http://127.0.0.1:\(origin.port)/images/kernel.img", "sha256": String(repeating: "0", count: 64)], to: "wrong.img")
        #expect(wrong.status == 422, "\(wrong.text)")
        #expect(!fixture.scratch.exists("root/wrong.img"))
        let missing = try await post(["url": "http://127.0.0.1:\(origin.port)/images/none.img"], to: "none.img")
        #expect(missing.status == 502, "\(missing.text)")
        #expect(missing.json?["error"] as? String == "FetchFailed")
        let unreachable = try await post(["url": "http://127.0.0.1:9/x"], to: "none.img")
        #expect(unreachable.status == 502, "\(unreachable.text)")
        let unsupported = try await post(["url": "ftp://example/x"], to: "none.img")
        #expect(unsupported.status == 400)
        #expect(!fixture.scratch.exists("root/none.img"))

        let local = try await post(["url": "file://\(fixture.scratch.path("origin/images/kernel.img"))"], to: "local.img")
        #expect(local.status == 201, "\(local.text)")
        #expect(fixture.scratch.contents("root/local.img") == content)
        let bad = try await fixture.curl(
            "POST", "/v1/files/x.img", body: Array("not json".utf8), headers: ["Content-Type: application/json"])
        #expect(bad.status == 400, "\(bad.text)")
    }
}

/// python3's http.server on 127.0.0.1 and a free port, serving `directory`.
final class LocalHTTPServer: Sendable {
    let process: RunningProcess
    let port: Int

    /// The number of requests for `path` in the server's log.
    func requests(for path: String) -> Int {
        process.stderrSoFar.split(separator: "\n").filter { $0.contains("\"GET \(path) ") }.count
    }

    convenience init(directory: String) async throws {
        let script = """
            import functools, http.server, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        try await self.init(script: script, arguments: [directory])
    }

    /// Runs a python `script` that prints its port on the first line.
    init(script: String, arguments: [String] = []) async throws {
        process = try RunningProcess("python3", arguments: ["-c", script] + arguments, timeout: 180)
        let deadline = monotonicSeconds() + 60  // process start-up on a loaded machine
        var found: Int?
        while found == nil && monotonicSeconds() < deadline {
            found = Int(process.stdoutSoFar.trimmingCharacters(in: .whitespacesAndNewlines))
            if found == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let found else { throw TestFailure("the test HTTP server did not start: \(process.stderrSoFar)") }
        port = found
    }

    func stop() {
        process.signal(SIGKILL)
        _ = process.waitBlocking()
    }
}
