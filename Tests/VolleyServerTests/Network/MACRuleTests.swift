import Foundation
import Glibc
import Testing

/// Rules by MAC address, where the neighbour table is real: the server in one network
/// namespace, the client in another, joined by a veth pair. Needs root and `ip`.
@Suite(
    "Network: rules by MAC address", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: LossNamespace.unavailableReason == nil, "\(LossNamespace.unavailableReason ?? "")"))
struct MACRuleTests {
    @Test("A board's MAC picks its root ({mac}) and a MAC match; another board gets the default root")
    func macRules() async throws {
        let scratch = try TestDirectory("mac")
        defer { scratch.remove() }
        let boardKernel = SeededBytes.make(count: 5000, seed: 71)
        let defaultKernel = SeededBytes.make(count: 4000, seed: 72)
        try scratch.write("boards/01-02-aa-bb-cc-dd-ee/kernel", boardKernel)
        try scratch.write("root/kernel", defaultKernel)
        try scratch.write("root/only-for-mac.txt", Array("mac\n".utf8))
        let suffix = UInt32.random(in: 0 ... .max)
        let server = "volley-macs-\(suffix)"
        let client = "volley-macc-\(suffix)"
        defer { _ = system("ip netns del \(server) 2>/dev/null; ip netns del \(client) 2>/dev/null") }
        let steps: [[String]] = [
            ["netns", "add", server], ["netns", "add", client],
            [
                "link", "add", "vs\(suffix % 100_000)", "netns", server, "type", "veth", "peer", "name", "vc\(suffix % 100_000)", "netns",
                client,
            ],
            ["-n", server, "addr", "add", "10.77.0.1/24", "dev", "vs\(suffix % 100_000)"],
            ["-n", server, "link", "set", "vs\(suffix % 100_000)", "up"],
            ["-n", client, "link", "set", "vc\(suffix % 100_000)", "address", "02:aa:bb:cc:dd:ee"],
            ["-n", client, "addr", "add", "10.77.0.2/24", "dev", "vc\(suffix % 100_000)"],
            ["-n", client, "link", "set", "vc\(suffix % 100_000)", "up"],
            ["-n", client, "addr", "add", "10.77.0.3/24", "dev", "vc\(suffix % 100_000)"],
        ]
        for step in steps {
            let result = try await runProcess("ip", arguments: step, timeout: 10)
            try #require(result.status == 0, "ip \(step.joined(separator: " ")): \(result)")
        }
        try scratch.write(
            "volley.yaml",
            Array(
                """
                root_dir: \(scratch.path("root"))
                host: 10.77.0.1
                port: 0
                rules:
                  - name: by-mac
                    match: { mac: "02:AA:BB:CC:DD:EE", name: "regex:(?i)only-.*" }
                    rewrite: { case_insensitive: true }
                  - name: per-board
                    match: { client: 10.77.0.2 }
                    root: \(scratch.path("boards"))/{mac}

                """.utf8))
        let service = try ServiceProcess(
            try VolleyBinaries.program("ip"),
            [
                "netns", "exec", server, try VolleyBinaries.volley(), "serve", "--config", scratch.path("volley.yaml"),
                "--control-listen", "unix:\(scratch.path("control.sock"))",
            ], timeout: 90)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        func fetch(_ name: String, from source: String, into output: String) async throws -> ProcessResult {
            try await runProcess(
                "ip",
                arguments: [
                    "netns", "exec", client, "curl", "-s", "--interface", source, "-o", scratch.path(output),
                    "tftp://10.77.0.1:\(port)/\(name)",
                ], timeout: 30)
        }
        let board = try await fetch("kernel", from: "10.77.0.2", into: "board")
        #expect(board.status == 0, "\(board)\n\(service.stderrText)")
        #expect(scratch.contents("board") == boardKernel, "the board did not get its own kernel: \(service.stderrText)")
        let byMAC = try await fetch("ONLY-FOR-MAC.TXT", from: "10.77.0.2", into: "bymac")
        #expect(byMAC.status == 0 && scratch.contents("bymac") == Array("mac\n".utf8), "\(byMAC)\n\(service.stderrText)")
        // 10.77.0.3 is not the per-board address (and the server has not resolved its MAC): the default root.
        let other = try await fetch("kernel", from: "10.77.0.3", into: "other")
        #expect(other.status == 0 && scratch.contents("other") == defaultKernel, "\(other)")
        #expect(service.lines(containing: "rule=per-board").count == 1, "\(service.stderrText)")
        #expect(service.lines(containing: "rule=by-mac").count == 1, "\(service.stderrText)")

        // The events and the clients table name the board by its MAC, with the name as served.
        func control(_ target: String) async throws -> String {
            try await runProcess(
                "curl",
                arguments: [
                    "-sN", "--max-time", "3", "-H", "Last-Event-ID: 0", "--unix-socket", scratch.path("control.sock"),
                    "http://localhost\(target)",
                ],
                timeout: 30
            ).stdout
        }
        let events = EventStreamTests.messages(try await control("/v1/events?mac=02:AA:BB:CC:DD:EE&type=finished"))
        #expect(events.count >= 2 && events.allSatisfy { $0.json["mac"] as? String == "02:aa:bb:cc:dd:ee" }, "\(events)")
        let served = events.compactMap { $0.json["served"] as? String }
        #expect(served.contains("only-for-mac.txt"), "the rewritten name is not the one served: \(served)")
        let boards = (try? JSONSerialization.jsonObject(with: Data(try await control("/v1/clients").utf8))) as? [[String: Any]] ?? []
        let macBoards = boards.filter { $0["mac"] as? String == "02:aa:bb:cc:dd:ee" }
        #expect(macBoards.count == 1, "one board for the MAC, whatever its addresses: \(boards)")
        let fetches = macBoards.first?["fetches"] as? [Any] ?? []
        #expect(fetches.count >= 2, "\(boards)")
    }
}
