import Foundation
import Glibc
import Testing

/// A `volley serve` with its control plane on a unix socket (or TCP), and the two clients
/// the tests drive it with: curl and the `volley` CLI.
final class ControlPlaneFixture: Sendable {
    let scratch: TestDirectory
    let service: ServiceProcess
    /// The control socket's path, or the base URL for TCP.
    let server: String
    /// The TFTP port.
    let tftpPort: Int
    let tokenFile: String?

    /// Starts a server on `scratch/root` with `--control-listen unix:…/control.sock` (or `listen`);
    /// with `startStopped`, its TFTP service stays stopped (`--start-stopped`) and `tftpPort` is 0.
    init(
        _ label: String, listen: String? = nil, token: String? = nil, startStopped: Bool = false, extraArguments: [String] = []
    ) async throws {
        scratch = try TestDirectory(label)
        try scratch.makeDirectory("root")
        var arguments = [
            "serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0",
            "--control-listen", listen ?? "unix:\(scratch.path("control.sock"))",
        ]
        if let token {
            _ = try scratch.write("token", Array((token + "\n").utf8))
            tokenFile = scratch.path("token")
            arguments += ["--control-token-file", scratch.path("token")]
        } else {
            tokenFile = nil
        }
        if startStopped { arguments.append("--start-stopped") }
        service = try ServiceProcess(try VolleyBinaries.volley(), arguments + extraArguments, timeout: 240)
        tftpPort = startStopped ? 0 : try await service.waitForServingPort()
        guard let line = try await service.waitForLine(containing: "control plane listening on ", timeout: 60) else {
            service.killIfRunning()
            throw TestFailure("the control plane did not come up; stderr:\n\(service.stderrText)")
        }
        let address = String(line.split(separator: " ").last ?? "")
        server = address.hasPrefix("unix:") ? String(address.dropFirst(5)) : address
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 s) and removes the scratch directory; for `defer`.
    func stop() {
        service.send(SIGTERM)
        let deadline = monotonicSeconds() + 10
        while service.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        service.killIfRunning()
        scratch.remove()
    }

    /// An HTTP answer as curl saw it.
    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
        var headers: String
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The top-level JSON object of the body.
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
        var jsonArray: [[String: Any]]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [[String: Any]] }
    }

    /// Runs curl against the control plane: `method` `path` (sent as is: `--path-as-is`).
    func curl(
        _ method: String, _ path: String, body: [UInt8]? = nil, headers: [String] = [], token: String? = nil,
        bodyFile: String? = nil, extra: [String] = []
    ) async throws -> Answer {
        let label = UUID().uuidString
        let output = scratch.path("curl-\(label).out")
        let headerFile = scratch.path("curl-\(label).headers")
        defer {
            unlink(output)
            unlink(headerFile)
        }
        var arguments = ["-s", "--path-as-is", "-o", output, "-D", headerFile, "-w", "%{http_code}", "-X", method]
        if method == "HEAD" { arguments = ["-s", "--path-as-is", "-I", "-o", output, "-D", headerFile, "-w", "%{http_code}"] }
        let url: String
        if server.hasPrefix("http") {
            url = server + path
        } else {
            arguments += ["--unix-socket", server]
            url = "http://localhost" + path
        }
        for header in headers { arguments += ["-H", header] }
        if let token = token
            ?? tokenFile.flatMap({ try? String(contentsOfFile: $0, encoding: .utf8) })?.trimmingCharacters(in: .whitespacesAndNewlines)
        {
            arguments += ["-H", "Authorization: Bearer \(token)"]
        }
        if let body {
            let bodyPath = scratch.path("curl-\(label).body")
            _ = FileManager.default.createFile(atPath: bodyPath, contents: Data(body))
            arguments += ["--data-binary", "@\(bodyPath)"]
        }
        if let bodyFile { arguments += ["--data-binary", "@\(bodyFile)"] }
        arguments += extra + [url]
        let result = try await runProcess("curl", arguments: arguments, timeout: 120)
        if body != nil { unlink(scratch.path("curl-\(label).body")) }
        guard let status = Int(result.stdout) else { throw TestFailure("curl failed: \(result)") }
        let bytes = FileManager.default.contents(atPath: output).map { [UInt8]($0) } ?? []
        let headerText = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return Answer(status: status, body: bytes, headers: headerText)
    }

    /// Runs `volley ARGS --server … [--token-file …]`.
    func volley(_ arguments: [String], environment: [String: String]? = nil) async throws -> ProcessResult {
        var all = arguments + ["--server", server]
        if let tokenFile { all += ["--token-file", tokenFile] }
        return try await runProcess(try VolleyBinaries.volley(), arguments: all, timeout: 120, environment: environment)
    }

    /// The value of header `name` in curl's header dump.
    static func header(_ name: String, in headers: String) -> String? {
        for line in headers.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

/// The SHA-256 of `bytes` as lowercase hex, computed by sha256sum (independent of the server's code).
func sha256sum(_ bytes: [UInt8], scratch: TestDirectory) async throws -> String {
    let path = scratch.path("digest-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { unlink(path) }
    let result = try await runProcess("sha256sum", arguments: [path], timeout: 60)
    return String(result.stdout.prefix(64))
}
