import Foundation
import Glibc
import Synchronization
import Testing

/// `origin:`: names missing from the root come from an HTTP image store the test starts.
@Suite("origin: a remote image store behind the root", .serialized, .timeLimit(.minutes(3)))
struct OriginTests {
    /// An HTTP origin that logs each request to stderr (python's http.server); it answers
    /// If-Modified-Since with 304 when the file did not change.
    private static func serve(
        _ scratch: TestDirectory, ttl: Int = 60, cacheBytes: Int = 1 << 30
    ) async throws -> (ServiceProcess, Int, LocalHTTPServer) {
        let origin = try await LocalHTTPServer(directory: scratch.path("origin"))
        try scratch.makeDirectory("root")
        try scratch.write(
            "volley.yaml",
            Array(
                """
                root_dir: \(scratch.path("root"))
                host: "127.0.0.1"
                port: 0
                origin: http://127.0.0.1:\(origin.port)/
                cache_dir: \(scratch.path("cache"))
                origin_ttl_s: \(ttl)
                cache_max_bytes: \(cacheBytes)
                request_rate_per_client: 0
                max_transfers_per_client: 0

                """.utf8))
        let service = try ServiceProcess(try VolleyBinaries.volley(), ["serve", "--config", scratch.path("volley.yaml")], timeout: 150)
        return (service, try await service.waitForServingPort(), origin)
    }

    @Test("50 clients asking at once for one missing 8 MiB file: one fetch, every byte right; a missing name is ERROR 1")
    func manyClientsOneFetch() async throws {
        let scratch = try TestDirectory("origin")
        defer { scratch.remove() }
        let image = SeededBytes.make(count: 8 << 20, seed: 81)
        try scratch.write("origin/images/initrd.img", image)
        let (service, port, origin) = try await Self.serve(scratch)
        defer {
            service.killIfRunning()
            origin.stop()
        }

        let failures = Mutex(0)
        let done = DispatchGroup()
        for _ in 0..<50 {
            done.enter()
            Thread.detachNewThread {
                let bytes = try? RawTFTPClient().fetch(
                    "images/initrd.img", options: [("blksize", "1428"), ("windowsize", "16")], from: loopback(port: port), timeout: 20
                ).bytes
                if bytes != image { failures.withLock { $0 += 1 } }
                done.leave()
            }
        }
        try await offload { done.wait() }
        #expect(failures.withLock { $0 } == 0, "\(failures.withLock { $0 }) of 50 clients failed\n\(service.stderrText.suffix(2000))")
        #expect(origin.requests(for: "/images/initrd.img") == 1, "origin log:\n\(origin.process.stderrSoFar)")
        #expect(scratch.contents("cache/images/initrd.img") == image)

        let missing = try await offload { () -> String in
            do {
                _ = try RawTFTPClient().fetch("images/none.img", from: loopback(port: port), timeout: 5)
                return "fetched"
            } catch {
                return "\(error)"
            }
        }
        #expect(missing.contains("File not found") || missing.contains("error 1"), "\(missing)")
    }

    @Test("After origin_ttl_s the origin is asked again: unchanged is not fetched again (304), changed is")
    func revalidation() async throws {
        let scratch = try TestDirectory("origin-ttl")
        defer { scratch.remove() }
        let first = SeededBytes.make(count: 100_000, seed: 82)
        let second = SeededBytes.make(count: 90_000, seed: 83)
        try scratch.write("origin/k.img", first)
        _ = utimes(scratch.path("origin/k.img"), [timeval(tv_sec: 1_700_000_000, tv_usec: 0), timeval(tv_sec: 1_700_000_000, tv_usec: 0)])
        let (service, port, origin) = try await Self.serve(scratch, ttl: 1)
        defer {
            service.killIfRunning()
            origin.stop()
        }
        func fetch() async throws -> [UInt8] {
            try await offload { try RawTFTPClient().fetch("k.img", from: loopback(port: port), timeout: 10).bytes }
        }
        #expect(try await fetch() == first)
        #expect(try await fetch() == first)
        #expect(origin.requests(for: "/k.img") == 1, "served from the cache within the TTL")
        try await Task.sleep(for: .milliseconds(1300))
        #expect(try await fetch() == first)
        #expect(origin.requests(for: "/k.img") == 2)
        #expect(origin.process.stderrSoFar.contains("\"GET /k.img HTTP/1.1\" 304"), "\(origin.process.stderrSoFar)")
        try scratch.write("origin/k.img", second)
        try await Task.sleep(for: .milliseconds(1300))
        #expect(try await fetch() == second, "the changed file was not fetched again")
        #expect(scratch.contents("cache/k.img") == second)
    }

    @Test("Beyond cache_max_bytes the least recently used file is evicted; an evicted file is fetched again")
    func leastRecentlyUsedEviction() async throws {
        let scratch = try TestDirectory("origin-lru")
        defer { scratch.remove() }
        let files = (0..<3).map { SeededBytes.make(count: 60_000, seed: UInt64(90 + $0)) }
        for (index, content) in files.enumerated() { try scratch.write("origin/f\(index).img", content) }
        let (service, port, origin) = try await Self.serve(scratch, cacheBytes: 130_000)
        defer {
            service.killIfRunning()
            origin.stop()
        }
        func fetch(_ index: Int) async throws {
            let bytes = try await offload { try RawTFTPClient().fetch("f\(index).img", from: loopback(port: port), timeout: 10).bytes }
            #expect(bytes == files[index], "f\(index).img")
        }
        try await fetch(0)
        try await fetch(1)
        try await fetch(0)  // f0 is now the more recently used
        try await fetch(2)  // 180 000 bytes > 130 000: f1 goes
        #expect(scratch.exists("cache/f0.img") && scratch.exists("cache/f2.img"))
        #expect(!scratch.exists("cache/f1.img"), "the least recently used file was not evicted")
        try await fetch(1)
        #expect(origin.requests(for: "/f1.img") == 2, "an evicted file must be fetched again")
        #expect(origin.requests(for: "/f0.img") == 1)
    }

    @Test("An origin that dies mid-fetch: the clients get an error, nothing half-fetched is cached or served")
    func originDiesMidFetch() async throws {
        let scratch = try TestDirectory("origin-dies")
        defer { scratch.remove() }
        // Announces 4 MiB, sends 1 MiB, closes.
        let script = """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200)
                    self.send_header("Content-Length", str(4 << 20))
                    self.end_headers()
                    self.wfile.write(b"x" * (1 << 20))
                    self.wfile.flush()
                    self.close_connection = True
            s = http.server.HTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        let origin = try await LocalHTTPServer(script: script)
        defer { origin.stop() }
        try scratch.makeDirectory("root")
        try scratch.write("volley.yaml", Array("cache_dir: \(scratch.path("cache"))\n".utf8))
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            [
                "serve", "--config", scratch.path("volley.yaml"), "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0",
                "--origin", "http://127.0.0.1:\(origin.port)/",
            ], timeout: 90)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()
        let outcome = try await offload { () -> String in
            do {
                _ = try RawTFTPClient().fetch("broken.img", from: loopback(port: port), timeout: 10)
                return "fetched"
            } catch {
                return "\(error)"
            }
        }
        #expect(outcome.contains("Origin unavailable"), "\(outcome)\n\(service.stderrText)")
        let left = (try? FileManager.default.subpathsOfDirectory(atPath: scratch.path("cache"))) ?? ["?"]
        #expect(left.isEmpty, "left in the cache: \(left)")
    }
}
