import Foundation
import Glibc
import Testing

/// What a newcomer reads: start-up failures that say what is wrong and what to do, the
/// serving line, the log formats, refusal lines, signals, privileges.
@Suite("CLI: messages a user reads")
struct CommandLineMessageTests {
    static let binary = CommandLineTests.binary

    /// Runs `volley serve ARGS` expecting it to fail; returns its one error line.
    private func startupError(_ arguments: [String]) async throws -> String {
        let result = try await runProcess(Self.binary, arguments: ["serve"] + arguments, timeout: 30)
        #expect(result.status != 0 && !result.killedBySignal && !result.timedOut, "\(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "not one line: \(result.stderr)")
        return String(lines.first ?? "")
    }

    @Test("a port in use names the address and hints at another TFTP server")
    func portInUse() async throws {
        let directory = try TestDirectory("inuse")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let holder = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let line = try await startupError(["--root", directory.path("root"), "--host", "127.0.0.1", "--port", String(port)])
        #expect(line.contains("cannot listen on 127.0.0.1:\(port)"), "\(line)")
        #expect(line.contains("Address already in use"), "\(line)")
        #expect(line.contains("another TFTP server"), "\(line)")
        #expect(!line.contains("invalid configuration"), "\(line)")
    }

    @Test(
        "a port below 1024 without privileges says how to get them", .enabled(if: geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0))
    func privilegedPort() async throws {
        let directory = try TestDirectory("lowport")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        #expect(chmod(directory.path, 0o755) == 0)
        let result = try await runProcess(
            "/usr/bin/setpriv",
            arguments: [
                "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--",
                Self.binary, "serve", "--root", directory.path("root"), "--host", "127.0.0.1", "--port", "69",
            ], timeout: 30)
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("cannot listen on 127.0.0.1:69"), "\(result.stderr)")
        #expect(result.stderr.contains("CAP_NET_BIND_SERVICE"), "\(result.stderr)")
    }

    @Test("an unreadable config file says why", arguments: [("missing", "does not exist"), ("directory", "is a directory")])
    func unreadableConfig(kind: String, reason: String) async throws {
        let directory = try TestDirectory("cfg")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        if kind == "directory" { try directory.makeDirectory("conf.yaml") }
        let line = try await startupError(["--config", directory.path("conf.yaml"), "--root", directory.path("root")])
        #expect(line.contains("cannot read \(directory.path("conf.yaml")): it \(reason)"), "\(line)")
    }

    @Test("YAML syntax errors give line and column; unknown keys suggest the nearest key")
    func configMistakes() async throws {
        let directory = try TestDirectory("cfg2")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let broken = try directory.write("broken.yaml", Array("port: 0\nhost: [127.0.0.1\n".utf8))
        let syntax = try await startupError(["--config", broken, "--root", directory.path("root")])
        #expect(syntax.contains("not valid YAML: line "), "\(syntax)")
        #expect(syntax.contains("column"), "\(syntax)")
        let typo = try directory.write("typo.yaml", Array("port: 0\nmax_windowsize: 8\n".utf8))
        let unknown = try await startupError(["--config", typo, "--root", directory.path("root")])
        #expect(unknown.contains("unknown key \"max_windowsize\" (did you mean \"max_window_size\"?)"), "\(unknown)")
    }

    @Test("--port -1 says the value is out of range")
    func negativePort() async throws {
        let directory = try TestDirectory("neg")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        let line = try await startupError(["--root", directory.path("root"), "--host", "127.0.0.1", "--port", "-1"])
        #expect(line.contains("port -1 is out of range (0-65535)"), "\(line)")
        #expect(!line.contains("Missing value"), "\(line)")
    }

    @Test("the serving line names the absolute root; settings that differ follow; timestamps have milliseconds")
    func servingLine() async throws {
        let directory = try TestDirectory("srv")
        defer { directory.remove() }
        try directory.write("root/a.txt", [1, 2, 3])
        // A relative --root, started from the directory that holds it.
        let process = try RunningProcess(
            "/bin/sh",
            arguments: [
                "-c", "cd \"$0\" && exec \"$1\" serve --root root --host 127.0.0.1 --port 0 --max-block-size 1468 --single-port",
                directory.path, Self.binary,
            ], timeout: 60)
        let text = try await process.waitForStderr(timeout: 20) { $0.contains("try: curl") }
        process.signal(SIGTERM)
        _ = try await process.wait()
        #expect(text.contains("serving \(directory.path("root")) on 127.0.0.1 port "), "\(text)")
        #expect(text.contains("settings that differ from the defaults: max_block_size=1468 single_port=true"), "\(text)")
        let first = text.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info volley: "#, options: .regularExpression) != nil, "\(first)")
    }

    @Test("log_format json writes one JSON object per line with the transfer's fields; refusals name the file once")
    func jsonLogs() async throws {
        let directory = try TestDirectory("json")
        defer { directory.remove() }
        try directory.write("root/a.txt", Array(repeating: 7, count: 1000))
        let (process, port) = try await CommandLineTests.startServe([
            "--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0", "--log-format", "json",
        ])
        let (_, failure) = try await RealClient.curl.fetch(port: port, name: "a.txt", output: directory.path("out"))
        #expect(failure == nil, "\(failure ?? "")")
        _ = try await RealClient.curl.fetch(port: port, name: "nothere.bin", output: directory.path("out2"))
        let text = try await process.waitForStderr(timeout: 10) { $0.contains("nothere.bin") }
        process.signal(SIGTERM)
        _ = try await process.wait()
        var sawTransfer = false
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            #expect(object["time"] is String && object["level"] is String && object["message"] is String)
            if object["outcome"] as? String == "delivered" {
                sawTransfer = true
                #expect(object["file"] as? String == "a.txt")
                #expect(object["bytes"] as? String == "1000")
                #expect((object["client"] as? String)?.hasPrefix("127.0.0.1:") == true)
            }
            if let message = object["message"] as? String, message.contains("nothere.bin") {
                #expect(message.components(separatedBy: "nothere.bin").count == 2, "the file is named once: \(message)")
                #expect(!message.contains("openat2"), "no system call name at info level: \(message)")
                #expect(!message.contains("\\\\"), "\(message)")
            }
        }
        #expect(sawTransfer, "\(text)")
    }

    @Test("SIGUSR1 logs a status line and does not stop the server")
    func statusSignal() async throws {
        let directory = try TestDirectory("usr1")
        defer { directory.remove() }
        try directory.write("root/a.txt", [1])
        let (process, _) = try await CommandLineTests.startServe(["--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0"])
        process.signal(SIGUSR1)
        let text = try await process.waitForStderr(timeout: 10) { $0.contains("status: ") }
        #expect(text.contains("transfers active"), "\(text)")
        process.signal(SIGTERM)
        let result = try await process.wait()
        #expect(result.status == 0 && !result.killedBySignal, "\(result)")
    }

    @Test(
        "--user drops root after binding: files only root could read are refused, world-readable ones served", .enabled(if: geteuid() == 0))
    func dropsPrivileges() async throws {
        let directory = try TestDirectory("user")
        defer { directory.remove() }
        #expect(chmod(directory.path, 0o755) == 0)
        try directory.write("root/open.bin", [1, 2, 3])
        let (process, port) = try await CommandLineTests.startServe([
            "--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0", "--user", "nobody", "--no-require-world-readable",
        ])
        let text = try await process.waitForStderr(timeout: 10) { $0.contains("root privileges dropped") }
        #expect(text.contains("running as user nobody"), "\(text)")
        // Every thread, the main one included, is nobody without capabilities.
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/task")
        #expect(!tasks.isEmpty)
        for task in tasks {
            let status = (try? String(contentsOfFile: "/proc/\(process.pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
            let caps = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") } ?? ""
            #expect(uid.split(separator: "\t").dropFirst().allSatisfy { $0 == "65534" }, "thread \(task): \(uid)")
            #expect(caps.hasSuffix("0000000000000000"), "thread \(task): \(caps)")
        }
        try directory.write("root/root-only.bin", [9])
        #expect(chmod(directory.path("root/root-only.bin"), 0o600) == 0)
        let (_, refused) = try await RealClient.curl.fetch(port: port, name: "root-only.bin", output: directory.path("o1"))
        #expect(refused != nil, "a 0600 root file was served after dropping to nobody")
        let (_, served) = try await RealClient.curl.fetch(port: port, name: "open.bin", output: directory.path("o2"))
        #expect(served == nil, "\(served ?? "")")
        process.signal(SIGTERM)
        #expect(try await process.wait().status == 0)
    }
}
