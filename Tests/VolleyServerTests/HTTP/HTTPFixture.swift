import Foundation
import Testing

/// A `volley serve` with the HTTP file server on a free loopback port, its root in a scratch directory.
struct HTTPFixture {
    let scratch: TestDirectory
    let service: ServiceProcess
    let httpPort: Int

    /// Starts a server on `scratch/root`; `configuration` is extra YAML (limits, http_header_timeout_ms).
    init(_ label: String, configuration: String = "", extraArguments: [String] = []) async throws {
        try await self.init(label, extraArguments: extraArguments) { _ in configuration }
    }

    /// Starts a server on `scratch/root`, with the extra YAML that `configuration` writes
    /// knowing the scratch directory (a rule's root, the origin's cache).
    init(_ label: String, extraArguments: [String] = [], configuration: (TestDirectory) throws -> String) async throws {
        scratch = try TestDirectory(label)
        try scratch.makeDirectory("root")
        _ = try scratch.write(
            "volley.yaml",
            Array(
                "root_dir: \(scratch.path("root"))\nhost: 127.0.0.1\nport: 0\nhttp_listen: 127.0.0.1:0\n\(try configuration(scratch))".utf8)
        )
        service = try ServiceProcess(
            try VolleyBinaries.volley(), ["serve", "--config", scratch.path("volley.yaml")] + extraArguments, timeout: 240)
        guard let line = try await service.waitForLine(containing: "serving HTTP on ", timeout: 60),
            let port = Int(line.split(separator: " ").last ?? "")
        else {
            service.killIfRunning()
            throw TestFailure("the HTTP file server did not come up; stderr:\n\(service.stderrText)")
        }
        httpPort = port
    }

    /// The URL of `path` (as written: no encoding added).
    func url(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(httpPort)/\(path)" }

    /// curl with `arguments`, the body into `scratch/output`; (status, headers, body).
    func curl(_ arguments: [String]) async throws -> (status: Int, headers: String, body: [UInt8]) {
        let label = UUID().uuidString
        let body = scratch.path("body-\(label)")
        let headers = scratch.path("headers-\(label)")
        let result = try await runProcess(
            "curl", arguments: ["-s", "--path-as-is", "-o", body, "-D", headers, "-w", "%{http_code}"] + arguments, timeout: 120)
        let status = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let headerText = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
        return (status, headerText, scratch.contents("body-\(label)") ?? [])
    }

    /// A raw request on a fresh connection; the whole answer, as text, until the server closes or 5 s pass.
    func raw(_ request: String) async throws -> String {
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(httpPort)), timeout=5)
            s.sendall(open(sys.argv[1], "rb").read())
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    out += chunk
            except socket.timeout:
                pass
            sys.stdout.buffer.write(out)
            """
        let input = scratch.path("raw-\(UUID().uuidString)")
        _ = try scratch.write(String(input.split(separator: "/").last!), Array(request.utf8))
        return try await runProcess("python3", arguments: ["-c", script, input], timeout: 30).stdout
    }

    func stop() {
        service.send(SIGTERM)
        let deadline = monotonicSeconds() + 10
        while service.isRunning && monotonicSeconds() < deadline { usleep(20_000) }
        service.killIfRunning()
        scratch.remove()
    }
}

/// The value of header `name` in curl's `-D` text (the last response's), nil when absent.
func headerValue(_ name: String, in headers: String) -> String? {
    let blocks = headers.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
    for line in (blocks.last ?? "").components(separatedBy: "\r\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
    }
    return nil
}
