import Foundation
import Glibc
import Testing

/// The files API over real HTTP (curl), confined to the root like TFTP reads.
@Suite("control plane: files", .serialized, .timeLimit(.minutes(3)))
struct ControlFilesTests {
    @Test("PUT creates (201) and replaces (200); GET, HEAD, list and DELETE answer as documented")
    func eachFileEndpoint() async throws {
        let fixture = try await ControlPlaneFixture("cp-files")
        defer { fixture.stop() }
        let first = SeededBytes.make(count: 300_001, seed: 1)
        let second = SeededBytes.make(count: 70_000, seed: 2)

        let created = try await fixture.curl("PUT", "/v1/files/boot/vmlinuz", body: first)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json?["skipped"] as? Bool == false)
        #expect(fixture.scratch.contents("root/boot/vmlinuz") == first)
        let replaced = try await fixture.curl("PUT", "/v1/files/boot%2Fvmlinuz", body: second)
        #expect(replaced.status == 200, "\(replaced.text)")
        #expect(replaced.json?["sha256"] as? String == (try await sha256sum(second, scratch: fixture.scratch)))

        let got = try await fixture.curl("GET", "/v1/files/boot/vmlinuz")
        #expect(got.status == 200)
        #expect(got.body == second)
        let head = try await fixture.curl("HEAD", "/v1/files/boot/vmlinuz")
        #expect(head.status == 200)
        #expect(
            ControlPlaneFixture.header("X-Checksum-SHA256", in: head.headers) == (try await sha256sum(second, scratch: fixture.scratch)))
        #expect(ControlPlaneFixture.header("X-File-Size", in: head.headers) == "70000")
        // Last-Modified as an HTTP date: RFC 9110's own example, and a leap day.
        for (seconds, date) in [(784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), (951_825_599, "Tue, 29 Feb 2000 11:59:59 GMT")] {
            _ = try await runProcess(
                "touch", arguments: ["-m", "-d", "@\(seconds)", fixture.scratch.path("root/boot/vmlinuz")], timeout: 30)
            let dated = try await fixture.curl("HEAD", "/v1/files/boot/vmlinuz")
            #expect(ControlPlaneFixture.header("Last-Modified", in: dated.headers) == date, "\(dated.headers)")
        }

        _ = try fixture.scratch.write("root/a.bin", [1, 2, 3])
        let list = try await fixture.curl("GET", "/v1/files")
        #expect(list.status == 200)
        let entries = list.jsonArray ?? []
        #expect(entries.compactMap { $0["path"] as? String } == ["a.bin", "boot/vmlinuz"], "\(list.text)")
        // Slashes are not escaped: the path reads as it is.
        #expect(list.text.contains("\"boot/vmlinuz\"") && !list.text.contains("\\/"), "\(list.text)")
        #expect(replaced.text.contains("\"boot/vmlinuz\""), "\(replaced.text)")
        #expect(entries.first?["size"] as? Int == 3)
        #expect(entries.allSatisfy { ($0["modified"] as? String)?.hasSuffix("Z") == true }, "\(list.text)")

        let deleted = try await fixture.curl("DELETE", "/v1/files/boot/vmlinuz")
        #expect(deleted.status == 204)
        #expect(!fixture.scratch.exists("root/boot/vmlinuz"))
        let again = try await fixture.curl("DELETE", "/v1/files/boot/vmlinuz")
        #expect(again.status == 404)
        #expect(again.json?["error"] as? String == "FileNotFound", "\(again.text)")
        #expect(try await fixture.curl("GET", "/v1/files/missing.bin").status == 404)
        #expect(try await fixture.curl("HEAD", "/v1/files/missing.bin").status == 404)
    }

    @Test("Expect: 100-continue gets an interim 100 before the body is sent (curl -T does not wait for its timeout)")
    func expectContinueIsAnswered() async throws {
        let fixture = try await ControlPlaneFixture("cp-continue")
        defer { fixture.stop() }
        let bytes = SeededBytes.make(count: 2_000_000, seed: 7)
        _ = try fixture.scratch.write("upload.bin", bytes)
        // curl waits up to --expect100-timeout for the 100 before it sends anyway: without the
        // interim answer the dump below would hold only the final status line.
        let answer = try await fixture.curl(
            "PUT", "/v1/files/big.bin", headers: ["Expect: 100-continue"], bodyFile: fixture.scratch.path("upload.bin"),
            extra: ["--expect100-timeout", "100"])
        #expect(answer.status == 201, "\(answer.text)")
        #expect(answer.headers.contains("HTTP/1.1 100 Continue"), "\(answer.headers)")
        #expect(fixture.scratch.contents("root/big.bin") == bytes)
        // An upload the server refuses still gets its final answer after the 100.
        let refused = try await fixture.curl(
            "PUT", "/v1/files/..%2Fescape", headers: ["Expect: 100-continue"], bodyFile: fixture.scratch.path("upload.bin"),
            extra: ["--expect100-timeout", "100"])
        #expect((400..<500).contains(refused.status), "\(refused.status) \(refused.headers)")
    }

    @Test("Traversal through the API is refused: dot segments, encoded slashes and dots, absolute paths, symlinks out")
    func traversalIsRefused() async throws {
        let fixture = try await ControlPlaneFixture("cp-traversal")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("secret", Array("secret".utf8))
        try fixture.scratch.symlink("root/out", to: fixture.scratch.path("secret"))
        try fixture.scratch.symlink("root/outdir", to: fixture.scratch.path(""))
        let before = fixture.scratch.allEntries()
        let hostile = [
            "/v1/files/../secret", "/v1/files/..%2Fsecret", "/v1/files/%2e%2e%2fsecret", "/v1/files/%2E%2E/secret",
            "/v1/files/sub/../../secret", "/v1/files/outdir/secret", "/v1/files/a%00b", "/v1/files/.", "/v1/files/..",
        ]
        for path in hostile {
            for method in ["PUT", "GET", "HEAD", "DELETE"] {
                let answer = try await fixture.curl(method, path, body: method == "PUT" ? Array("x".utf8) : nil)
                #expect(answer.status == 403 || answer.status == 400, "\(method) \(path) answered \(answer.status) \(answer.text)")
                #expect(answer.body != Array("secret".utf8), "\(method) \(path) leaked the secret")
            }
        }
        // A symlink in the root that points out is neither read nor written through; deleting
        // it removes the link, inside the root, and never its target.
        #expect(try await fixture.curl("GET", "/v1/files/out").status == 403)
        #expect(try await fixture.curl("PUT", "/v1/files/out", body: Array("x".utf8)).status == 403)
        #expect(fixture.scratch.contents("secret") == Array("secret".utf8), "a write escaped the root")
        #expect(
            fixture.scratch.allEntries().filter { !$0.hasPrefix("curl-") } == before.filter { !$0.hasPrefix("curl-") },
            "files appeared or vanished outside the API's rules")
        #expect(try await fixture.curl("DELETE", "/v1/files/out").status == 204)
        #expect(fixture.scratch.contents("secret") == Array("secret".utf8))
        // A leading slash means the root, as for TFTP reads: "/etc/passwd" is root/etc/passwd.
        for path in ["/v1/files//etc/passwd", "/v1/files/%2Fetc%2Fpasswd"] {
            #expect(try await fixture.curl("PUT", path, body: Array("x".utf8)).status == 201 || fixture.scratch.exists("root/etc/passwd"))
            #expect(fixture.scratch.contents("root/etc/passwd") == Array("x".utf8))
            #expect(try await fixture.curl("DELETE", path).status == 204)
        }
        // file:// is off by default: it would copy any file volley can read into the root.
        let copied = try await fixture.curl(
            "POST", "/v1/files/stolen", body: Array(#"{"url": "file:///etc/passwd"}"#.utf8),
            headers: ["Content-Type: application/json"])
        #expect(copied.status == 403 && copied.json?["error"] as? String == "FileURLsOff", "\(copied.text)")
        #expect(!fixture.scratch.exists("root/stolen"))
        let escaped = try await fixture.curl("PUT", "/v1/files/..%2Fescaped", body: [1])
        #expect(escaped.status == 403, "\(escaped.text)")
        #expect(escaped.json?["error"] as? String == "AccessViolation")
        #expect(!fixture.scratch.exists("escaped"))
    }

    @Test("X-Checksum-SHA256: the same content is skipped, a body that differs is refused (422) and stores nothing")
    func checksumSkipAndMismatch() async throws {
        let fixture = try await ControlPlaneFixture("cp-checksum")
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 100_000, seed: 3)
        let digest = try await sha256sum(content, scratch: fixture.scratch)
        #expect(try await fixture.curl("PUT", "/v1/files/k.img", body: content, headers: ["X-Checksum-SHA256: \(digest)"]).status == 201)
        let inode = try FileManager.default.attributesOfItem(atPath: fixture.scratch.path("root/k.img"))[.systemFileNumber] as? Int

        let skipped = try await fixture.curl(
            "PUT", "/v1/files/k.img", body: content, headers: ["X-Checksum-SHA256: \(digest.uppercased())"])
        #expect(skipped.status == 200)
        #expect(skipped.json?["skipped"] as? Bool == true, "\(skipped.text)")
        let inodeAfter = try FileManager.default.attributesOfItem(atPath: fixture.scratch.path("root/k.img"))[.systemFileNumber] as? Int
        #expect(inode == inodeAfter, "a skipped upload rewrote the file")

        let other = SeededBytes.make(count: 100_000, seed: 4)
        let mismatch = try await fixture.curl(
            "PUT", "/v1/files/k.img", body: other, headers: ["X-Checksum-SHA256: \(String(repeating: "ab", count: 32))"])
        #expect(mismatch.status == 422, "\(mismatch.text)")
        #expect(mismatch.json?["error"] as? String == "ChecksumMismatch")
        #expect(fixture.scratch.contents("root/k.img") == content, "the old file did not stay")
        let fresh = try await fixture.curl("PUT", "/v1/files/new.img", body: other, headers: ["X-Checksum-SHA256: \(digest)"])
        #expect(fresh.status == 422)
        #expect(!fixture.scratch.exists("root/new.img"))
        #expect(fixture.scratch.allEntries().filter { $0.contains(".volley-upload") }.isEmpty, "a temporary was left behind")
    }

    @Test("An upload over control_max_upload_bytes gets 413 and leaves nothing, with or without Content-Length")
    func sizeLimit() async throws {
        let fixture = try await ControlPlaneFixture("cp-limit", extraArguments: ["--control-max-upload-bytes", "10000"])
        defer { fixture.stop() }
        let big = SeededBytes.make(count: 20_000, seed: 5)
        let known = try await fixture.curl("PUT", "/v1/files/big.img", body: big)
        #expect(known.status == 413, "\(known.text)")
        let chunked = try await fixture.curl("PUT", "/v1/files/big.img", body: big, headers: ["Transfer-Encoding: chunked"])
        #expect(chunked.status == 413, "\(chunked.text)")
        #expect(!fixture.scratch.exists("root/big.img"))
        #expect(fixture.scratch.allEntries().filter { $0.contains(".volley-upload") }.isEmpty, "a temporary was left behind")
        #expect(try await fixture.curl("PUT", "/v1/files/small.img", body: Array(big.prefix(10_000))).status == 201)
    }

    @Test("A full disk gives 507 and leaves no partial file (tmpfs; root only)")
    func fullDisk() async throws {
        guard geteuid() == 0 else {
            print("skipped: mounting a small tmpfs needs root")
            return
        }
        let fixture = try await ControlPlaneFixture("cp-full")
        defer { fixture.stop() }
        let mountPoint = fixture.scratch.path("root/small")
        try fixture.scratch.makeDirectory("root/small")
        let mounted = try await runProcess("mount", arguments: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        guard mounted.status == 0 else {
            print("skipped: cannot mount a tmpfs here: \(mounted.stderr)")
            return
        }
        defer { _ = umount2(mountPoint, Int32(MNT_DETACH)) }
        let answer = try await fixture.curl("PUT", "/v1/files/small/kernel.img", body: SeededBytes.make(count: 1 << 20, seed: 6))
        #expect(answer.status == 507, "\(answer.text)")
        #expect(answer.json?["error"] as? String == "InsufficientStorage")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: mountPoint)) ?? ["?"]
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("A file replaced through the API while a TFTP client reads it: the client gets the old bytes")
    func replaceWhileReading() async throws {
        let fixture = try await ControlPlaneFixture("cp-replace")
        defer { fixture.stop() }
        let old = SeededBytes.make(count: 60 * 512 + 7, seed: 7)
        let new = SeededBytes.make(count: 20 * 512 + 3, seed: 8)
        _ = try fixture.scratch.write("root/live.img", old)
        _ = try fixture.scratch.write("new.img", new)
        let port = fixture.tftpPort
        let socket = fixture.server
        let fetched = try await offload {
            try RawTFTPClient().slowFetch("live.img", serverPort: port, ackDelay: 0.005) { block in
                guard block == 10 else { return }
                let upload = try? RunningProcess(
                    "curl",
                    arguments: [
                        "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", socket, "-X", "PUT",
                        "--data-binary", "@\(fixture.scratch.path("new.img"))", "http://localhost/v1/files/live.img",
                    ], timeout: 30
                ).waitBlocking()
                #expect(upload?.stdout == "200", "the upload during the read failed: \(String(describing: upload))")
            }
        }
        #expect(fetched == old, "the reader did not keep the old bytes")
        #expect(fixture.scratch.contents("root/live.img") == new)
        let after = try await offload { try RawTFTPClient().fetch("live.img", from: loopback(port: port)) }
        #expect(after.bytes == new)
    }

    @Test("kill -9 in the middle of an upload: its temporary is 0600 and never served, and the next start removes it and says so")
    func interruptedUpload() async throws {
        let fixture = try await ControlPlaneFixture("cp-interrupted")
        defer { fixture.stop() }
        let source = try fixture.scratch.write("big.bin", SeededBytes.make(count: 6_000_000, seed: 21))
        // At 1 MB/s the upload lasts seconds: time to look at its temporary.
        let upload = Task { try await fixture.curl("PUT", "/v1/files/images/big.bin", bodyFile: source, extra: ["--limit-rate", "1M"]) }
        var temporary: String?
        for _ in 0..<400 where temporary == nil {
            try await Task.sleep(for: .milliseconds(25))
            temporary = fixture.scratch.allEntries().first { $0.hasPrefix("root/images/.volley-upload-") }
        }
        let found = try #require(temporary, "no upload temporary appeared")
        let name = String(found.dropFirst("root/".count))
        var status = stat()
        #expect(
            lstat(fixture.scratch.path(found), &status) == 0 && status.st_mode & 0o777 == 0o600,
            "mode \(String(status.st_mode & 0o777, radix: 8))")
        let port = fixture.tftpPort
        let served = try await offload { try? RawTFTPClient().fetch(name, from: loopback(port: port), timeout: 2) }
        #expect(served == nil, "TFTP served an upload in progress")
        #expect(try await fixture.curl("GET", "/v1/files/\(name)").status == 404)
        #expect(try await fixture.curl("GET", "/v1/files").jsonArray?.isEmpty == true)

        fixture.service.send(SIGKILL)
        _ = try await fixture.service.waitForExit(timeout: 20)
        _ = try? await upload.value
        #expect(fixture.scratch.exists(found), "kill -9 cannot clean up: the temporary stays until the next start")

        let again = try ServiceProcess(
            try VolleyBinaries.volley(), ["serve", "--root", fixture.scratch.path("root"), "--host", "127.0.0.1", "--port", "0"],
            timeout: 120)
        defer { again.killIfRunning() }
        _ = try await again.waitForServingPort()
        #expect(!fixture.scratch.exists(found), "the next start left the temporary")
        #expect(again.lines(containing: "removed 1 upload temporary an interrupted upload left: \(name)").count == 1, "\(again.stderrText)")
        again.send(SIGTERM)
        #expect(try await again.waitForExit(timeout: 20).isCleanExit)
    }
}
