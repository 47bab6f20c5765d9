import Foundation
import Glibc
import Testing

/// 10 % random loss of UDP datagrams in both directions, made inside a network namespace
/// with an nftables input rule (this kernel has no sch_netem): six real clients fetch a
/// 1 MiB file at once and must all finish byte-exact within 60 s, in both socket modes.
/// Needs root, `ip` and `nft`; skipped with a message otherwise.
@Suite(
    "Network: loss in a namespace", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: LossNamespace.unavailableReason == nil, "\(LossNamespace.unavailableReason ?? "")"))
struct LossTests {
    @Test("six clients under 10% loss each way finish a 1 MiB file byte-exact within 60 s", arguments: ["default", "single-port"])
    func clientsFinishUnderLoss(mode: String) async throws {
        let scratch = try TestDirectory("loss")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 1 << 20, seed: 61)
        try scratch.write("root/initrd.img", content)
        let namespace = try await LossNamespace(lossPercent: 10)
        defer { namespace.remove() }

        var arguments = ["serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0"]
        if mode == "single-port" { arguments.append("--single-port") }
        let server = try ServiceProcess(
            try VolleyBinaries.program("ip"), ["netns", "exec", namespace.name, try VolleyBinaries.volley()] + arguments, timeout: 120)
        defer { server.killIfRunning() }
        let port = try await server.waitForServingPort()

        let clients: [RealClient] = [.curlBlockSize1468, .curlBlockSize1468, .atftp, .atftp, .busybox, .busybox]
        let start = Date()
        let failures: [String] = await withTaskGroup(of: String?.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    let output = scratch.path("out-\(index)")
                    let (program, clientArguments) = client.command(host: "127.0.0.1", port: port, name: "initrd.img", output: output)
                    let run = {
                        try? await runProcess("ip", arguments: ["netns", "exec", namespace.name, program] + clientArguments, timeout: 60)
                    }
                    guard var result = await run() else { return "\(client) #\(index) could not run" }
                    // atftp aborts when an OACK comes twice (tftp_file.c: "unexpected OACK"), which
                    // the protocol requires of a server whose ACK 0 was lost: that is atftp's
                    // failure, not the server's, so such a client gets one more try.
                    if client == .atftp, result.status != 0, result.stderr.contains("unexpected OACK") {
                        print("loss test (\(mode)): atftp #\(index) aborted on a repeated OACK (its ACK 0 was lost); trying it again")
                        guard let again = await run() else { return "\(client) #\(index) could not run" }
                        result = again
                    }
                    if result.timedOut { return "\(client) #\(index) did not finish within 60 s" }
                    if result.status != 0 { return "\(client) #\(index) failed: \(result)" }
                    if scratch.contents("out-\(index)") != content { return "\(client) #\(index) got different bytes" }
                    return nil
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        let took = Date().timeIntervalSince(start)
        #expect(failures.isEmpty, "\(mode): \(failures)\nvolley:\n\(server.stderrText.suffix(3000))")
        #expect(took < 60, "\(mode): six transfers took \(took) s")
        print("loss test (\(mode)): 6 clients, 1 MiB each, 10% loss each way: \(String(format: "%.1f", took)) s")
    }
}

/// A network namespace with its loopback up and an nftables rule dropping a share of UDP.
struct LossNamespace: Sendable {
    let name: String

    /// Why the loss tests cannot run here, or nil.
    static var unavailableReason: String? {
        if geteuid() != 0 { return "loss tests need root (network namespaces and nftables)" }
        for tool in ["ip", "nft"] where !executablePath(tool).hasPrefix("/") {
            return "loss tests need \(tool) (scripts/bootstrap installs it)"
        }
        return nil
    }

    init(lossPercent: Int) async throws {
        name = "volley-loss-\(UInt32.random(in: 0 ... .max))"
        let rules = """
            table inet volley_loss {
              chain input {
                type filter hook input priority 0;
                meta l4proto udp numgen random mod 100 < \(lossPercent) drop
              }
            }
            """
        let rulesFile = NSTemporaryDirectory() + "\(name).nft"
        try rules.write(toFile: rulesFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: rulesFile) }
        for step in [["netns", "add", name], ["-n", name, "link", "set", "lo", "up"]] {
            let result = try await runProcess("ip", arguments: step, timeout: 10)
            guard result.status == 0 else { throw TestFailure("ip \(step.joined(separator: " ")): \(result)") }
        }
        let nft = try await runProcess("ip", arguments: ["netns", "exec", name, "nft", "-f", rulesFile], timeout: 10)
        guard nft.status == 0 else {
            remove()
            throw TestFailure("nft: \(nft)")
        }
    }

    /// Deletes the namespace.
    func remove() {
        _ = system("ip netns del \(name) 2>/dev/null")
    }
}
