import Foundation
import Glibc
import Testing

/// The built `volley` binary, run as a subprocess with hard timeouts.
@Suite("CLI: volley")
struct CommandLineTests {
    /// `<package root>/.build/debug/volley`, found from this file's path.
    static let binary: String = (try? VolleyBinaries.volley()) ?? ".build/debug/volley"

    static let serveFlags = [
        "--root", "--host", "--port", "--config", "--max-block-size", "--max-window-size", "--mtu-clamp", "--no-mtu-clamp",
        "--retransmit-timeout", "--max-retries", "--max-transfers", "--log-level",
    ]

    @Test("volley --help and volley serve --help exit 0; serve --help names every flag")
    func help() async throws {
        #expect(access(Self.binary, X_OK) == 0, "build the package first: \(Self.binary) is missing")
        let top = try await runProcess(Self.binary, arguments: ["--help"], timeout: 30)
        #expect(top.status == 0 && !top.killedBySignal, "\(top)")
        #expect(top.stdout.contains("serve"), "\(top.stdout)")
        let serve = try await runProcess(Self.binary, arguments: ["serve", "--help"], timeout: 30)
        #expect(serve.status == 0 && !serve.killedBySignal, "\(serve)")
        for flag in Self.serveFlags {
            #expect(serve.stdout.contains(flag), "serve --help does not mention \(flag)")
        }
    }

    /// Starts `volley serve` with `arguments`, waits for its "serving … port N" line and returns it with N.
    static func startServe(_ arguments: [String]) async throws -> (RunningProcess, Int) {
        let process = try RunningProcess(binary, arguments: ["serve"] + arguments, timeout: 60)
        let text = try await process.waitForStderr(timeout: 20) {
            $0.range(of: #"serving .* on \S+ port [0-9]+"#, options: .regularExpression) != nil
        }
        guard let range = text.range(of: #"port [0-9]+"#, options: .regularExpression),
            let port = Int(text[range].dropFirst(5)), port > 0
        else {
            process.signal(SIGKILL)
            _ = try await process.wait()
            throw TestFailure("no 'serving … port N' line on stderr: \(text)")
        }
        return (process, port)
    }

    @Test("serve --port 0 logs the bound port, serves curl, and exits 0 on the signal", arguments: [SIGTERM, SIGINT])
    func serveAndSignal(signal: Int32) async throws {
        let directory = try TestDirectory("cli")
        defer { directory.remove() }
        let content = SeededBytes.make(count: 12_345, seed: 51)
        try directory.write("root/pxelinux.0", content)
        let (process, port) = try await Self.startServe(["--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0"])
        let stderrText = process.stderrSoFar
        #expect(stderrText.contains("serving \(directory.path("root")) on 127.0.0.1 port \(port)"), "\(stderrText)")
        let (_, failure) = try await RealClient.curl.fetch(port: port, name: "pxelinux.0", output: directory.path("out"))
        #expect(failure == nil, "\(failure ?? "")")
        #expect(byteDifference(directory.contents("out"), content) == nil)
        process.signal(signal)
        let result = try await process.wait()
        #expect(result.status == 0 && !result.killedBySignal && !result.timedOut, "\(result)")
    }

    @Test("--config with root_dir, host and port works, and flags override it")
    func configFile() async throws {
        let directory = try TestDirectory("cliconfig")
        defer { directory.remove() }
        try directory.write("from-config/a.txt", Array("config root".utf8))
        try directory.write("from-flag/a.txt", Array("flag root".utf8))
        let config = try directory.write(
            "volley.yaml",
            Array(
                """
                root_dir: \(directory.path("from-config"))
                host: 127.0.0.1
                port: 0
                max_block_size: 1024

                """.utf8))

        let (first, port) = try await Self.startServe(["--config", config])
        let (_, failure) = try await RealClient.curl.fetch(port: port, name: "a.txt", output: directory.path("out1"))
        #expect(failure == nil, "\(failure ?? "")")
        #expect(directory.contents("out1") == Array("config root".utf8))
        first.signal(SIGTERM)
        #expect(try await first.wait().status == 0)

        let (second, port2) = try await Self.startServe(["--config", config, "--root", directory.path("from-flag")])
        let (_, failure2) = try await RealClient.curl.fetch(port: port2, name: "a.txt", output: directory.path("out2"))
        #expect(failure2 == nil, "\(failure2 ?? "")")
        #expect(directory.contents("out2") == Array("flag root".utf8))
        #expect(second.stderrSoFar.contains("serving \(directory.path("from-flag"))"))
        second.signal(SIGTERM)
        #expect(try await second.wait().status == 0)
    }

    @Test(
        "bad configurations give a one-line error and a non-zero exit",
        arguments: [
            ("unknown key", "hots: 127.0.0.1\nport: 0\n", "hots"),
            ("bad value type", "port: abc\n", "port"),
            ("missing root", "root_dir: ROOT/does-not-exist\nport: 0\n", "does-not-exist"),
        ])
    func badConfiguration(label: String, yaml: String, mentions: String) async throws {
        let directory = try TestDirectory("clibad")
        defer { directory.remove() }
        try directory.makeDirectory("root")
        var text = yaml.replacingOccurrences(of: "ROOT", with: directory.path)
        if !text.contains("root_dir") { text = "root_dir: \(directory.path("root"))\n" + text }
        let config = try directory.write("bad.yaml", Array(text.utf8))
        let result = try await runProcess(Self.binary, arguments: ["serve", "--config", config, "--host", "127.0.0.1"], timeout: 30)
        #expect(result.status != 0 && !result.killedBySignal && !result.timedOut, "\(label): \(result)")
        let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errorLines.count == 1, "\(label): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(label): not one line: \(result.stderr)")
        #expect(errorLines.first?.contains(mentions) == true, "\(label): \(result.stderr)")
        #expect(!result.stderr.contains("serving "), "\(label): it started serving")
    }

    @Test("a missing --root directory is refused without a config file")
    func missingRootFlag() async throws {
        let directory = try TestDirectory("clinoroot")
        defer { directory.remove() }
        let result = try await runProcess(
            Self.binary, arguments: ["serve", "--root", directory.path("nope"), "--host", "127.0.0.1", "--port", "0"], timeout: 30)
        #expect(result.status != 0 && !result.timedOut, "\(result)")
        #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
    }
}
