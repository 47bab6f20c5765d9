import Foundation
import Glibc
import Testing

/// The HTTP file server (`http_listen`): real clients (curl, wget, raw sockets) over loopback,
/// bytes compared with the files.
@Suite("HTTP file server", .serialized, .timeLimit(.minutes(3)))
struct HTTPFileServerTests {
    @Test("curl and wget fetch byte-exact; HEAD, keep-alive, ETag and Last-Modified")
    func fetches() async throws {
        let fixture = try await HTTPFixture("http-fetch")
        defer { fixture.stop() }
        let kernel = SeededBytes.make(count: 3_000_001, seed: 41)
        _ = try fixture.scratch.write("root/boot/vmlinuz", kernel)
        _ = try fixture.scratch.write("root/empty", [])

        let got = try await fixture.curl([fixture.url("boot/vmlinuz")])
        #expect(got.status == 200 && got.body == kernel, "\(got.status) \(got.body.count) bytes")
        #expect(headerValue("Content-Length", in: got.headers) == "3000001")
        let tag = try #require(headerValue("ETag", in: got.headers))
        #expect(tag.hasPrefix("\"") && tag.hasSuffix("\""), "a strong entity tag: \(tag)")
        #expect(headerValue("Last-Modified", in: got.headers)?.hasSuffix(" GMT") == true)
        #expect(headerValue("Accept-Ranges", in: got.headers) == "bytes")

        let wget = try await runProcess(
            "wget", arguments: ["-q", "-O", fixture.scratch.path("wget.out"), fixture.url("boot/vmlinuz")], timeout: 60)
        #expect(wget.status == 0 && fixture.scratch.contents("wget.out") == kernel, "\(wget)")

        let head = try await fixture.curl(["-I", fixture.url("boot/vmlinuz")])
        #expect(head.status == 200 && headerValue("Content-Length", in: head.headers) == "3000001")
        let rawHead = try await fixture.raw("HEAD /boot/vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(rawHead.hasPrefix("HTTP/1.1 200") && rawHead.hasSuffix("\r\n\r\n"), "HEAD has no body: \(rawHead)")
        let empty = try await fixture.curl([fixture.url("empty")])
        #expect(empty.status == 200 && empty.body.isEmpty && headerValue("Content-Length", in: empty.headers) == "0")

        // Two requests, one connection; HTTP/1.0 is answered too and closed.
        let both = try await runProcess(
            "curl", arguments: ["-sv", "-o", "/dev/null", "-o", "/dev/null", fixture.url("boot/vmlinuz"), fixture.url("empty")], timeout: 60
        )
        #expect(
            both.stderr.contains("Re-using existing connection") || both.stderr.contains("Reusing existing connection"), "\(both.stderr)")
        let old = try await fixture.curl(["-0", fixture.url("boot/vmlinuz")])
        #expect(old.status == 200 && old.body == kernel && old.headers.hasPrefix("HTTP/1.0 200"), "\(old.headers)")
    }

    @Test("Range: 206 with Content-Range, suffix and open ranges, 416 past the end, several ranges get the whole file")
    func ranges() async throws {
        let fixture = try await HTTPFixture("http-range")
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 10_000, seed: 42)
        _ = try fixture.scratch.write("root/file", content)
        let url = fixture.url("file")

        let middle = try await fixture.curl(["-r", "100-199", url])
        #expect(middle.status == 206 && middle.body == Array(content[100...199]))
        #expect(headerValue("Content-Range", in: middle.headers) == "bytes 100-199/10000")
        let suffix = try await fixture.curl(["-H", "Range: bytes=-10", url])
        #expect(suffix.status == 206 && suffix.body == Array(content[9990...]))
        let open = try await fixture.curl(["-H", "Range: bytes=9995-", url])
        #expect(open.status == 206 && open.body == Array(content[9995...]))
        let clipped = try await fixture.curl(["-H", "Range: bytes=9990-20000", url])
        #expect(clipped.status == 206 && clipped.body == Array(content[9990...]))
        let past = try await fixture.curl(["-H", "Range: bytes=10000-", url])
        #expect(past.status == 416 && headerValue("Content-Range", in: past.headers) == "bytes */10000")
        let several = try await fixture.curl(["-H", "Range: bytes=0-1,5-6", url])
        #expect(several.status == 200 && several.body == content)
        let tag = try #require(headerValue("ETag", in: middle.headers))
        let stale = try await fixture.curl(["-H", "Range: bytes=0-9", "-H", "If-Range: \"other\"", url])
        #expect(stale.status == 200 && stale.body == content)
        let current = try await fixture.curl(["-H", "Range: bytes=0-9", "-H", "If-Range: \(tag)", url])
        #expect(current.status == 206 && current.body == Array(content[0...9]))
    }

    @Test("304 for If-None-Match and If-Modified-Since; 405 with Allow; 414; 400; no directory listings")
    func statuses() async throws {
        let fixture = try await HTTPFixture("http-status")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/boot/boot.ipxe", Array("#!ipxe\n".utf8))
        let url = fixture.url("boot/boot.ipxe")
        let first = try await fixture.curl([url])
        let tag = try #require(headerValue("ETag", in: first.headers))
        let modified = try #require(headerValue("Last-Modified", in: first.headers))

        #expect(try await fixture.curl(["-H", "If-None-Match: \(tag)", url]).status == 304)
        #expect(try await fixture.curl(["-H", "If-None-Match: \"nope\", \(tag)", url]).status == 304)
        #expect(try await fixture.curl(["-H", "If-None-Match: \"nope\"", url]).status == 200)
        #expect(try await fixture.curl(["-H", "If-Modified-Since: \(modified)", url]).status == 304)
        #expect(try await fixture.curl(["-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", url]).status == 200)

        let post = try await fixture.curl(["-X", "POST", "-d", "x", url])
        #expect(post.status == 405 && headerValue("Allow", in: post.headers) == "GET, HEAD")
        #expect(try await fixture.curl(["-X", "DELETE", url]).status == 405)
        #expect(try await fixture.curl([fixture.url(String(repeating: "a", count: 9000))]).status == 414)
        #expect(try await fixture.curl([fixture.url("")]).status == 404)
        #expect(try await fixture.curl([fixture.url("boot/")]).status == 404)
        #expect(try await fixture.curl([fixture.url("boot")]).status == 404)
        #expect(try await fixture.curl([fixture.url("missing")]).status == 404)
        let garbage = try await fixture.raw("GARBAGE\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
        let badEscape = try await fixture.raw("GET /boot/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(badEscape.hasPrefix("HTTP/1.1 400"), "\(badEscape)")
        // The server is still there.
        #expect(try await fixture.curl([url]).status == 200)
    }

    @Test("The traversal corpus and HTTP's own encodings never leave the root")
    func traversal() async throws {
        let fixture = try await HTTPFixture("http-traversal")
        defer { fixture.stop() }
        let secret = Array("the secret outside the root\n".utf8)
        _ = try fixture.scratch.write("secret.txt", secret)
        _ = try fixture.scratch.write("root/ok.txt", Array("ok".utf8))
        try fixture.scratch.makeDirectory("root/sub")
        #expect(symlink(fixture.scratch.path("secret.txt"), fixture.scratch.path("root/link-out")) == 0)
        #expect(symlink("../../secret.txt", fixture.scratch.path("root/sub/relative-out")) == 0)
        let attempts = [
            "../secret.txt", "../../secret.txt", "sub/../../secret.txt", "%2e%2e/secret.txt", "%2E%2E%2Fsecret.txt",
            "..%2fsecret.txt", "%252e%252e/secret.txt", "..%5csecret.txt", "..\\secret.txt", "/\(fixture.scratch.path("secret.txt"))",
            "%2f\(fixture.scratch.path("secret.txt").dropFirst())", "link-out", "sub/relative-out", "ok.txt%00.png",
            "sub/%2e%2e/%2e%2e/secret.txt",
        ]
        for attempt in attempts {
            let got = try await fixture.curl([fixture.url(attempt)])
            #expect(got.body != secret && [403, 404, 400].contains(got.status), "\(attempt): \(got.status)")
        }
        #expect(try await fixture.curl([fixture.url("sub/../ok.txt")]).status == 403, "a name with .. is refused, as over TFTP")
        #expect(try await fixture.curl([fixture.url("ok.txt")]).body == Array("ok".utf8))
    }

    @Test("A sparse file over 4 GiB: its size, and a range near its end")
    func largeFile() async throws {
        let fixture = try await HTTPFixture("http-large")
        defer { fixture.stop() }
        let size: Int64 = 5 * 1024 * 1024 * 1024 + 123
        let path = fixture.scratch.path("root/disk.img")
        let tail = SeededBytes.make(count: 4096, seed: 43)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: UInt64(size) - UInt64(tail.count))
        handle.write(Data(tail))
        try handle.close()
        let head = try await fixture.curl(["-I", fixture.url("disk.img")])
        #expect(headerValue("Content-Length", in: head.headers) == String(size))
        let end = try await fixture.curl(["-r", "\(size - 4096)-\(size - 1)", fixture.url("disk.img")])
        #expect(end.status == 206 && end.body == tail)
        #expect(headerValue("Content-Range", in: end.headers) == "bytes \(size - 4096)-\(size - 1)/\(size)")
    }

    @Test("1,000 concurrent downloads, each byte-exact")
    func thousandAtOnce() async throws {
        // All from 127.0.0.1: one client, so no per-client limit (as for a lab behind NAT).
        let fixture = try await HTTPFixture("http-thousand", configuration: "max_transfers_per_client: 0\nmax_transfers: 2000\n")
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 256 * 1024 + 7, seed: 46)
        _ = try fixture.scratch.write("root/initrd", content)
        let script = """
            import asyncio, hashlib, resource, sys
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
            port, expected = int(sys.argv[1]), hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
            async def fetch():
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /initrd HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
                data = await reader.read()
                writer.close()
                head, _, body = data.partition(b"\\r\\n\\r\\n")
                return head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).hexdigest() == expected
            async def main():
                results = await asyncio.wait_for(asyncio.gather(*(fetch() for _ in range(1000)), return_exceptions=True), 90)
                print(sum(1 for r in results if r is True), "of", len(results))
            asyncio.run(main())
            """
        let result = try await runProcess(
            "python3", arguments: ["-c", script, String(fixture.httpPort), fixture.scratch.path("root/initrd")], timeout: 120)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1000 of 1000", "\(result)")
    }

    @Test("Connections count against max_transfers_per_client and max_transfers, with TFTP's transfers: 503 beyond")
    func connectionLimits() async throws {
        let fixture = try await HTTPFixture("http-limits", configuration: "max_transfers: 3\nmax_transfers_per_client: 2\n")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/ok.txt", Array("ok".utf8))
        // Idle connections held open by a helper until its standard input closes.
        func hold(_ count: Int, from source: String) throws -> ServiceProcess {
            let script = """
                import socket, sys, time
                held = [socket.create_connection(("127.0.0.1", \(fixture.httpPort)), source_address=("\(source)", 0)) for _ in range(\(count))]
                print("holding", flush=True)
                time.sleep(30)
                """
            return try ServiceProcess(try VolleyBinaries.program("python3"), ["-c", script], timeout: 60)
        }
        func status(from source: String) async throws -> (Int, String) {
            let got = try await fixture.curl(["--interface", source, fixture.url("ok.txt")])
            return (got.status, headerValue("Retry-After", in: got.headers) ?? "")
        }
        func waitHolding(_ helper: ServiceProcess) async throws {
            for _ in 0..<250 where !helper.stdoutText.contains("holding") { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
        }
        let two = try hold(2, from: "127.0.0.2")
        defer { two.killIfRunning() }
        try await waitHolding(two)
        #expect(try await status(from: "127.0.0.2") == (503, "1"), "a third connection from one client")
        #expect(try await status(from: "127.0.0.3") == (200, ""))
        let one = try hold(1, from: "127.0.0.3")
        defer { one.killIfRunning() }
        try await waitHolding(one)
        #expect(try await status(from: "127.0.0.4") == (503, "1"), "a fourth connection in all")
        two.killIfRunning()
        one.killIfRunning()
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await status(from: "127.0.0.2") == (200, ""))
    }

    @Test("A slow client is cut off at the header timeout while others are served")
    func slowClient() async throws {
        let fixture = try await HTTPFixture("http-slow", configuration: "http_header_timeout_ms: 1000\n")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/ok.txt", Array("ok".utf8))
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(fixture.httpPort)))
            start = time.monotonic()
            s.sendall(b"GET /ok.txt HTTP/1.1\\r\\nHost: x\\r\\n")
            try:
                for i in range(20):
                    time.sleep(0.25)
                    s.sendall(b"X-Slow: " + str(i).encode() + b"\\r\\n")
            except OSError:
                pass
            s.settimeout(10)
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            print("closed after %.1f s, got %r" % (time.monotonic() - start, data))
            """
        async let slow = runProcess("python3", arguments: ["-c", script], timeout: 30)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await fixture.curl([fixture.url("ok.txt")]).status == 200)
        let output = try await slow.stdout
        let seconds = Double(output.split(separator: " ").dropFirst(2).first ?? "") ?? 99
        #expect(seconds < 4 && output.contains("got b''"), "\(output)")
    }

    @Test("Rules apply to HTTP as to TFTP: a request from 127.0.0.2 gets another root")
    func rulesByAddress() async throws {
        let fixture = try await HTTPFixture("http-rules") { scratch in
            try scratch.makeDirectory("lab-b")  // a rule's root must exist when the configuration is read
            return """
                rules:
                  - name: lab-b
                    match: { client: 127.0.0.2 }
                    root: \(scratch.path("lab-b"))

                """
        }
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/kernel", Array("default".utf8))
        _ = try fixture.scratch.write("lab-b/kernel", Array("lab b".utf8))
        func fetch(from source: String) async throws -> String {
            try await runProcess("curl", arguments: ["-s", "--interface", source, fixture.url("kernel")], timeout: 30).stdout
        }
        #expect(try await fetch(from: "127.0.0.2") == "lab b")
        #expect(try await fetch(from: "127.0.0.1") == "default")
        #expect(fixture.service.lines(containing: "rule=lab-b").count == 1, "\(fixture.service.stderrText)")
    }

    @Test("The origin through HTTP: HTTP and TFTP clients asking at once for a missing file cause one fetch")
    func originThroughHTTP() async throws {
        let store = try TestDirectory("http-origin-store")
        defer { store.remove() }
        let image = SeededBytes.make(count: 4 << 20, seed: 47)
        _ = try store.write("images/rootfs.img", image)
        let origin = try await LocalHTTPServer(directory: store.path)
        defer { origin.stop() }
        let fixture = try await HTTPFixture("http-origin") { scratch in
            "origin: http://127.0.0.1:\(origin.port)/\ncache_dir: \(scratch.path("cache"))\n"
        }
        defer { fixture.stop() }
        let scratch = fixture.scratch
        let tftpPort = try await fixture.service.waitForServingPort()
        let httpPort = fixture.httpPort
        async let overHTTP = (0..<5).asyncMap { index in
            try await runProcess(
                "curl", arguments: ["-s", "-o", scratch.path("http-\(index)"), "http://127.0.0.1:\(httpPort)/images/rootfs.img"],
                timeout: 60)
        }
        let overTFTP = try await offload {
            try RawTFTPClient().fetch("images/rootfs.img", options: [("blksize", "1468")], from: loopback(port: tftpPort), timeout: 20)
                .bytes
        }
        for (index, result) in try await overHTTP.enumerated() {
            #expect(result.status == 0 && scratch.contents("http-\(index)") == image, "\(result)")
        }
        #expect(overTFTP == image)
        #expect(origin.requests(for: "/images/rootfs.img") == 1, "origin log:\n\(origin.process.stderrSoFar)")
        #expect(
            try await runProcess(
                "curl", arguments: ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(httpPort)/images/none.img"]
            ).stdout == "404")
    }

    @Test("HTTP transfers and refusals are events (protocol http) and count in /v1/clients and the log")
    func events() async throws {
        let fixture = try await ControlPlaneFixture("http-events", extraArguments: ["--http-listen", "127.0.0.1:0"])
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 100_000, seed: 49)
        _ = try fixture.scratch.write("root/boot/kernel", content)
        let line = try #require(try await fixture.service.waitForLine(containing: "serving HTTP on ", timeout: 60))
        let port = try #require(Int(line.split(separator: " ").last ?? ""))
        let fetched = try await runProcess(
            "curl", arguments: ["-s", "-o", fixture.scratch.path("got"), "http://127.0.0.1:\(port)/boot/kernel"], timeout: 30)
        #expect(fetched.status == 0 && fixture.scratch.contents("got") == content)
        _ = try await runProcess("curl", arguments: ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/missing"], timeout: 30)
        let stream = try await runProcess(
            "curl",
            arguments: ["-sN", "--max-time", "2", "--unix-socket", fixture.server, "-H", "Last-Event-ID: 0", "http://localhost/v1/events"],
            timeout: 30)
        let events = EventStreamTests.messages(stream.stdout)
        #expect(events.map(\.event) == ["started", "finished", "refused"], "\(stream.stdout)")
        #expect(events.allSatisfy { $0.json["protocol"] as? String == "http" }, "\(stream.stdout)")
        let end = try #require(events.dropFirst().first?.json)
        #expect(end["outcome"] as? String == "delivered" && end["bytes"] as? Int == content.count && end["size"] as? Int == content.count)
        #expect(end["file"] as? String == "boot/kernel" && end["options"] == nil)
        #expect(events.last?.json["reason"] as? String == "file_not_found")
        let boards = try #require(try await fixture.curl("GET", "/v1/clients").jsonArray)
        let fetches = boards.first?["fetches"] as? [[String: Any]] ?? []
        #expect(fetches.first?["file"] as? String == "boot/kernel" && fetches.first?["outcome"] as? String == "delivered", "\(boards)")
        #expect(fixture.service.lines(containing: "\"boot/kernel\" GET: 100000 bytes in").count == 1, "\(fixture.service.stderrText)")
    }

    @Test("A file rewritten in place mid-body: the client gets a short body, never a complete mixed one")
    func rewrittenMidBody() async throws {
        let fixture = try await HTTPFixture("http-rewrite")
        defer { fixture.stop() }
        let original = SeededBytes.make(count: 32 << 20, seed: 44)
        let path = try fixture.scratch.write("root/image", original)
        async let download = runProcess(
            "curl", arguments: ["-s", "--limit-rate", "8M", "-o", fixture.scratch.path("got"), "-w", "%{http_code}", fixture.url("image")],
            timeout: 60)
        try await Task.sleep(for: .milliseconds(800))
        // Rewrite in place, as `cp` over an existing file does: same inode, new bytes.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.write(Data(SeededBytes.make(count: 32 << 20, seed: 45)))
        try handle.close()
        let result = try await download
        let got = fixture.scratch.contents("got") ?? []
        #expect(result.status != 0 && got.count < original.count, "curl \(result.status), \(got.count) bytes")
        #expect(fixture.service.lines(containing: "changed while it was sent").count == 1, "\(fixture.service.stderrText)")
    }
}

extension Range where Bound == Int {
    /// Runs `body` for every index at once; the results in order.
    fileprivate func asyncMap<T: Sendable>(_ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for index in self { group.addTask { (index, try await body(index)) } }
            var results: [(Int, T)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
