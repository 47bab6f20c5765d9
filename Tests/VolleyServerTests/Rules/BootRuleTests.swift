import Foundation
import Glibc
import Testing
import TFTPProtocol

/// `rules:` end to end: the real server, a YAML file, requests from 127.0.0.1 and 127.0.0.2.
@Suite("rules: per-client roots, rewrites and options", .serialized, .timeLimit(.minutes(2)))
struct BootRuleTests {
    /// A scratch tree, its configuration and a running server.
    private static func serve(_ scratch: TestDirectory, rules: String) async throws -> (ServiceProcess, Int) {
        try scratch.write("volley.yaml", Array("root_dir: \(scratch.path("root"))\nhost: \"127.0.0.1\"\nport: 0\nrules:\n\(rules)".utf8))
        let service = try ServiceProcess(try VolleyBinaries.volley(), ["serve", "--config", scratch.path("volley.yaml")], timeout: 90)
        return (service, try await service.waitForServingPort())
    }

    @Test("A client's address picks its root; a name glob with a regex rewrite; backslashes and case; the log names the rule")
    func rootsAndRewrites() async throws {
        let scratch = try TestDirectory("rules")
        defer { scratch.remove() }
        let main = SeededBytes.make(count: 3000, seed: 41)
        let special = SeededBytes.make(count: 2000, seed: 42)
        let pxe = SeededBytes.make(count: 1000, seed: 43)
        try scratch.write("root/boot/vmlinuz", main)
        try scratch.write("special/boot/vmlinuz", special)
        try scratch.write("root/boot/PXELinux.0", pxe)
        let (service, port) = try await Self.serve(
            scratch,
            rules: """
                  - name: special-board
                    match: { client: 127.0.0.2/32, name: "boot/*" }
                    root: \(scratch.path("special"))
                  - name: legacy
                    match: { name: "regex:^old/.*" }
                    rewrite: { regex: "^old/(.*)", replacement: "boot/\\\\1" }
                  - name: windows
                    match: { name: "**.0" }
                    rewrite: { backslash_to_slash: true, case_insensitive: true }
                """)
        defer { service.killIfRunning() }

        let fromSpecial = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("boot/vmlinuz", from: loopback(port: port)) }
        #expect(fromSpecial.bytes == special, "127.0.0.2 did not get its own root")
        let fromMain = try await offload { try RawTFTPClient().fetch("boot/vmlinuz", from: loopback(port: port)) }
        #expect(fromMain.bytes == main)
        let rewritten = try await offload { try RawTFTPClient().fetch("old/vmlinuz", from: loopback(port: port)) }
        #expect(rewritten.bytes == main)
        let windows = try await offload { try RawTFTPClient().fetch("BOOT\\pxelinux.0", from: loopback(port: port)) }
        #expect(windows.bytes == pxe)
        // The special client asking for another name falls through to the other rules.
        let fallThrough = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("old/vmlinuz", from: loopback(port: port)) }
        #expect(fallThrough.bytes == main)

        let special127 = try await service.waitForLine(containing: "rule=special-board", timeout: 5)
        #expect(special127?.contains("127.0.0.2:") == true, "\(service.stderrText)")
        for _ in 0..<100 where service.lines(containing: "rule=legacy").count < 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(service.lines(containing: "rule=legacy").count == 2)
        #expect(service.lines(containing: "rule=windows").count == 1)
        service.send(SIGTERM)
        _ = try await service.waitForExit(timeout: 10)
    }

    @Test("options: tsize never, windows capped, blksize capped, for the matched clients only")
    func optionOverrides() async throws {
        let scratch = try TestDirectory("rules-opt")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 20_000, seed: 44)
        try scratch.write("root/f.bin", content)
        try scratch.write("root/uefi/f.bin", content)
        let (service, port) = try await Self.serve(
            scratch,
            rules: """
                  - name: quirky
                    match: { client: 127.0.0.2 }
                    options: { tsize: never, max_window_size: 1, max_block_size: 1024 }
                  - name: aptio
                    match: { name: "uefi/*" }
                    options: { tsize: never }
                """)
        defer { service.killIfRunning() }
        let asked: [(String, String)] = [("blksize", "1468"), ("windowsize", "8"), ("tsize", "0")]
        let quirky = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("f.bin", options: asked, from: loopback(port: port)) }
        #expect(quirky.bytes == content)
        let quirkyOptions = Dictionary(uniqueKeysWithValues: (quirky.optionAcknowledgement ?? []).map { ($0.name.lowercased(), $0.value) })
        #expect(quirkyOptions["tsize"] == nil, "\(quirkyOptions)")
        #expect(quirkyOptions["blksize"] == "1024", "\(quirkyOptions)")
        #expect(quirkyOptions["windowsize"] == "1", "\(quirkyOptions)")
        let normal = try await offload { try RawTFTPClient().fetch("f.bin", options: asked, from: loopback(port: port)) }
        let normalOptions = Dictionary(uniqueKeysWithValues: (normal.optionAcknowledgement ?? []).map { ($0.name.lowercased(), $0.value) })
        #expect(normalOptions == ["blksize": "1468", "windowsize": "8", "tsize": "20000"], "\(normalOptions)")
        // A real client sees it in the OACK too: atftp --trace, from the matched address.
        func atftpOACK(_ name: String) async throws -> String {
            let traced = try await runProcess(
                "atftp",
                arguments: [
                    "--trace", "--option", "blksize 1468", "--option", "tsize 0", "--option", "windowsize 8",
                    "-g", "-r", name, "-l", scratch.path("atftp.out"), "127.0.0.1", String(port),
                ], timeout: 30)
            #expect(scratch.contents("atftp.out") == content, "\(traced)")
            return String((traced.stdout + traced.stderr).split(separator: "\n").first { $0.contains("OACK") } ?? "")
        }
        let plain = try await atftpOACK("f.bin")
        #expect(plain.contains("blksize: 1468") && plain.contains("tsize: 20000"), "unmatched: \(plain)")
        let uefi = try await atftpOACK("uefi/f.bin")
        #expect(uefi.contains("blksize: 1468") && !uefi.contains("tsize"), "rule aptio: \(uefi)")
        service.send(SIGTERM)
        _ = try await service.waitForExit(timeout: 10)
    }

    @Test("A rule whose root is missing is a one-line error at start; on SIGHUP the running rules stay")
    func missingRootDirectory() async throws {
        let scratch = try TestDirectory("rules-missing")
        defer { scratch.remove() }
        try scratch.write("root/a.bin", [1, 2, 3])
        try scratch.write("special/a.bin", [9])
        try scratch.write(
            "bad.yaml",
            Array(
                "root_dir: \(scratch.path("root"))\nport: 0\nrules:\n  - match: { client: 10.0.0.0/8 }\n    root: \(scratch.path("nowhere"))/{mac}\n"
                    .utf8))
        let refused = try await runProcess(
            try VolleyBinaries.volley(), arguments: ["serve", "--config", scratch.path("bad.yaml"), "--host", "127.0.0.1"], timeout: 30)
        #expect(refused.status != 0)
        let errorLines = refused.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
        #expect(errorLines.count == 1 && errorLines[0].contains("rules[0]") && errorLines[0].contains("nowhere"), "\(refused.stderr)")

        let (service, port) = try await Self.serve(
            scratch,
            rules: """
                  - match: { client: 127.0.0.2 }
                    root: \(scratch.path("special"))
                """)
        defer { service.killIfRunning() }
        try scratch.write(
            "volley.yaml",
            Array(
                "root_dir: \(scratch.path("root"))\nhost: \"127.0.0.1\"\nport: 0\nrules:\n  - match: { client: 127.0.0.2 }\n    root: \(scratch.path("gone"))\n"
                    .utf8))
        service.send(SIGHUP)
        let failed = try await service.waitForLine(containing: "reload failed", timeout: 10)
        #expect(failed?.contains("gone") == true, "\(service.stderrText)")
        let still = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("a.bin", from: loopback(port: port)) }
        #expect(still.bytes == [9], "the running rules were not kept")
        service.send(SIGTERM)
        _ = try await service.waitForExit(timeout: 10)
    }

    @Test("Rules reload through the control plane (POST /v1/reload): new rules at once, a broken file is 422 and changes nothing")
    func reloadThroughControlPlane() async throws {
        let scratch = try TestDirectory("rules-reload")
        defer { scratch.remove() }
        try scratch.write("root/a.bin", [1])
        try scratch.write("special/a.bin", [2])
        let socket = scratch.path("control.sock")
        let base = "root_dir: \(scratch.path("root"))\nhost: \"127.0.0.1\"\nport: 0\ncontrol_listen: unix:\(socket)\n"
        try scratch.write("volley.yaml", Array(base.utf8))
        let service = try ServiceProcess(try VolleyBinaries.volley(), ["serve", "--config", scratch.path("volley.yaml")], timeout: 90)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()
        _ = try await service.waitForLine(containing: "control plane listening", timeout: 60)
        func reload() async throws -> ProcessResult {
            try await runProcess(
                "curl", arguments: ["-s", "-w", "\n%{http_code}", "-X", "POST", "--unix-socket", socket, "http://localhost/v1/reload"],
                timeout: 30)
        }
        #expect(try await offload { try RawTFTPClient().fetch("a.bin", from: loopback(port: port)).bytes } == [1])
        try scratch.write("volley.yaml", Array((base + "rules:\n  - name: all\n    root: \(scratch.path("special"))\n").utf8))
        let applied = try await reload()
        #expect(applied.stdout.hasSuffix("200"), "\(applied)")
        #expect(try await offload { try RawTFTPClient().fetch("a.bin", from: loopback(port: port)).bytes } == [2])
        try scratch.write("volley.yaml", Array((base + "rules:\n  - root: \(scratch.path("nowhere"))\n").utf8))
        let refused = try await reload()
        #expect(refused.stdout.hasSuffix("422") && refused.stdout.contains("nowhere"), "\(refused)")
        #expect(
            try await offload { try RawTFTPClient().fetch("a.bin", from: loopback(port: port)).bytes } == [2],
            "the running rules were not kept")
    }

    @Test("volley rules explain names the rule and the file, and exits 2 when nothing would be served")
    func explain() async throws {
        let scratch = try TestDirectory("rules-explain")
        defer { scratch.remove() }
        try scratch.write("root/a.bin", [1])
        try scratch.write("boards/01-aa-bb-cc-dd-ee-ff/kernel", [2])
        try scratch.write(
            "volley.yaml",
            Array(
                """
                root_dir: \(scratch.path("root"))
                rules:
                  - name: per-board
                    match: { client: 10.1.0.0/16 }
                    root: \(scratch.path("boards"))/{mac}

                """.utf8))
        let found = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "rules", "explain", "--config", scratch.path("volley.yaml"), "--client", "10.1.2.3", "--mac", "AA:BB:CC:DD:EE:FF", "kernel",
            ], timeout: 30)
        #expect(found.status == 0, "\(found)")
        #expect(found.stdout.contains("rule:  per-board"), "\(found.stdout)")
        #expect(found.stdout.contains("file:  \(scratch.path("boards"))/01-aa-bb-cc-dd-ee-ff/kernel"), "\(found.stdout)")
        let noMAC = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "rules", "explain", "--config", scratch.path("volley.yaml"), "--client", "10.1.2.4", "kernel",
            ], timeout: 30)
        #expect(noMAC.status == 2 && noMAC.stdout.contains("neighbour table"), "\(noMAC)")
        let other = try await runProcess(
            try VolleyBinaries.volley(),
            arguments: [
                "rules", "explain", "--config", scratch.path("volley.yaml"), "--client", "192.168.0.9", "a.bin",
            ], timeout: 30)
        #expect(other.status == 0 && other.stdout.contains("rule:  none"), "\(other)")
    }
}
