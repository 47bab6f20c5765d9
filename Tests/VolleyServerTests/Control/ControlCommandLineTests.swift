import Foundation
import Glibc
import Testing

/// `volley files`, `volley status` and `volley session` against a real server.
@Suite("control plane: the volley files CLI", .serialized, .timeLimit(.minutes(3)))
struct ControlCommandLineTests {
    @Test("put, ls, sha256, get, rm and fetch work; put skips an unchanged file; exit codes tell what failed")
    func filesCommands() async throws {
        let fixture = try await ControlPlaneFixture(
            "cp-cli", listen: "127.0.0.1:0", token: "cli-token", extraArguments: ["--control-allow-file-urls"])
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 2_000_000, seed: 12)
        let local = try fixture.scratch.write("vmlinuz", content)
        let digest = try await sha256sum(content, scratch: fixture.scratch)

        let put = try await fixture.volley(["files", "put", local, "boot/vmlinuz"])
        #expect(put.status == 0, "\(put)")
        #expect(put.stdout.contains("boot/vmlinuz: created"), "\(put)")
        #expect(put.stderr.isEmpty, "a pipe must get no progress bar: \(put.stderr)")
        #expect(fixture.scratch.contents("root/boot/vmlinuz") == content)
        let again = try await fixture.volley(["files", "put", local, "boot/vmlinuz"])
        #expect(again.status == 0 && again.stdout.contains("unchanged"), "\(again)")
        #expect(fixture.service.lines(containing: "stored boot/vmlinuz").count == 1, "the unchanged file was sent again")

        let list = try await fixture.volley(["files", "ls"])
        #expect(list.status == 0 && list.stdout.contains("2000000") && list.stdout.contains("boot/vmlinuz"), "\(list)")
        let sum = try await fixture.volley(["files", "sha256", "boot/vmlinuz"])
        #expect(sum.stdout == "\(digest)  boot/vmlinuz\n", "\(sum)")
        let got = try await fixture.volley(["files", "get", "boot/vmlinuz", fixture.scratch.path("copy")])
        #expect(got.status == 0, "\(got)")
        #expect(fixture.scratch.contents("copy") == content)
        let fetched = try await fixture.volley(["files", "fetch", "file://\(local)", "copy.img", "--sha256", digest])
        #expect(fetched.status == 0, "\(fetched)")
        #expect(fixture.scratch.contents("root/copy.img") == content)

        let removed = try await fixture.volley(["files", "rm", "boot/vmlinuz"])
        #expect(removed.status == 0, "\(removed)")
        #expect(!fixture.scratch.exists("root/boot/vmlinuz"))

        let missing = try await fixture.volley(["files", "get", "boot/vmlinuz", fixture.scratch.path("copy2")])
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("not found"), "\(missing.stderr)")
        #expect(!fixture.scratch.exists("copy2") && !fixture.scratch.exists("copy2.part"))
        #expect(try await fixture.volley(["files", "rm", "nope"]).status == 2)
        #expect(try await fixture.volley(["files", "sha256", "nope"]).status == 2)
        let outside = try await fixture.volley(["files", "put", local, "../escape"])
        #expect(outside.status == 3, "\(outside)")

        let status = try await fixture.volley(["status"])
        #expect(status.status == 0 && status.stdout.contains("running on 127.0.0.1 port \(fixture.tftpPort)"), "\(status)")

        // A wrong token: refused (3). Nothing listening: cannot connect (4).
        let wrongToken = try fixture.scratch.write("wrong-token", Array("nope\n".utf8))
        let refused = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "files", "ls", "--server", fixture.server, "--token-file", wrongToken,
            ], timeout: 60)
        #expect(refused.status == 3, "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        let nobody = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "files", "ls", "--server", fixture.scratch.path("no.sock"),
            ], timeout: 60)
        #expect(nobody.status == 4, "\(nobody)")
        #expect(nobody.stderr.split(separator: "\n").count == 1, "\(nobody.stderr)")
        let environment = ProcessInfo.processInfo.environment.merging(
            ["VOLLEY_SERVER": fixture.server, "VOLLEY_TOKEN_FILE": fixture.tokenFile!]) { $1 }
        let fromEnvironment = try await runProcess(
            try VolleyBinaries.volley(), arguments: ["status"], timeout: 60, environment: environment)
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
    }

    @Test("A CI job's session: put with VOLLEY_SESSION, a board fetches by TFTP, Prometheus sees it, closing removes the file")
    func ciJobSession() async throws {
        let fixture = try await ControlPlaneFixture("cp-ci")
        defer { fixture.stop() }
        let kernel = SeededBytes.make(count: 700_000, seed: 13)
        let local = try fixture.scratch.write("vmlinuz", kernel)
        let opened = try await fixture.volley(["session", "open", "--ttl", "600"])
        #expect(opened.status == 0, "\(opened)")
        let session = opened.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var environment = ProcessInfo.processInfo.environment
        environment["VOLLEY_SESSION"] = session
        let put = try await fixture.volley(["files", "put", local, "boards/7/vmlinuz"], environment: environment)
        #expect(put.status == 0, "\(put)")

        let client = RealClient.curlBlockSize1468
        let (_, failure) = try await client.fetch(
            port: fixture.tftpPort, name: "boards/7/vmlinuz", output: fixture.scratch.path("board.img"))
        #expect(failure == nil, "\(failure ?? "")")
        #expect(fixture.scratch.contents("board.img") == kernel, "the board did not get the uploaded bytes")
        try await Task.sleep(for: .milliseconds(200))
        let metrics = PrometheusText(try await fixture.curl("GET", "/metrics").text)
        #expect(metrics.value("volley_transfers_total", ["outcome": "delivered"]) == 1)
        #expect(metrics.bytesSentMatch(payload: kernel.count, blockSize: 1468))

        #expect(try await fixture.volley(["session", "renew"], environment: environment).status == 0)
        let closed = try await fixture.volley(["session", "close"], environment: environment)
        #expect(closed.status == 0 && closed.stdout.contains("removed boards/7/vmlinuz"), "\(closed)")
        #expect(!fixture.scratch.exists("root/boards/7/vmlinuz"))
    }

    @Test("--help of every control-plane command explains itself")
    func help() async throws {
        for command in [["files"], ["files", "put"], ["files", "fetch"], ["status"], ["session"], ["session", "open"]] {
            let result = try await runProcess(try VolleyBinaries.volley(), arguments: command + ["--help"], timeout: 30)
            #expect(result.status == 0, "\(command): \(result)")
            #expect(result.stdout.contains("--server") || result.stdout.contains("SUBCOMMANDS"), "\(command): \(result.stdout)")
        }
    }
}
