import Foundation
import Glibc
import Testing

/// The real `volley` executable as systemd runs it: socket activation, sd_notify
/// (READY, STATUS, WATCHDOG, RELOADING, STOPPING), SIGHUP reload and the SIGTERM drain.
/// Every subprocess has a hard timeout and is killed by its PID; only 127.0.0.1 is used.
@Suite("systemd: the volley executable as a service", .serialized, .timeLimit(.minutes(2)))
struct SystemdServiceTests {
    // MARK: (a) socket activation

    @Test("under systemd-socket-activate, volley serves curl through the passed socket")
    func socketActivation() async throws {
        let scratch = try TestDirectory("sa")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 70_000, seed: 1)
        try scratch.write("root/boot/kernel.img", content)
        let port = try freeLoopbackUDPPort()
        // host and port given on purpose: with a passed socket they must be ignored.
        let service = try ServiceProcess(
            try VolleyBinaries.program("systemd-socket-activate"),
            [
                "--datagram", "-l", "127.0.0.1:\(port)", "--fdname=tftp",
                try VolleyBinaries.volley(), "serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "1",
            ],
            timeout: 60)
        defer { service.killIfRunning() }
        let listening = try await waitUntilBound(port: port, timeout: 60)
        try #require(listening, "systemd-socket-activate did not bind 127.0.0.1:\(port); output:\n\(service.stderrText)")

        // systemd-socket-activate starts volley on the first datagram: curl's RRQ.
        let failure = try await curlFetch(port: port, name: "boot/kernel.img", output: scratch.path("out"))
        #expect(failure == nil, "\(failure ?? "")\nvolley stderr:\n\(service.stderrText)\nstdout:\n\(service.stdoutText)")
        #expect(scratch.contents("out") == content ? true : false, "the fetched file differs")

        let activation = try await service.waitForLine(containing: "socket activation:", timeout: 10)
        #expect(
            activation?.contains("serving the 1 socket(s) systemd passed: tftp (fd 3); host and port settings are ignored") == true,
            "stderr:\n\(service.stderrText)")
        // It serves on the passed socket, not on the configured 127.0.0.1:1.
        #expect(!service.lines(containing: "serving ").contains { $0.hasSuffix(" port 1") })
        #expect(service.lines(containing: "on 127.0.0.1 port \(port)").count == 1, "stderr:\n\(service.stderrText)")
        let transfer = try await service.waitForLine(containing: "\"boot/kernel.img\" octet", timeout: 10)
        #expect(transfer?.hasSuffix("delivered") == true, "transfer line: \(transfer ?? "none")")

        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
    }

    @Test("a dual-stack passed socket, as volley.socket makes it, serves IPv4 and IPv6 clients")
    func dualStackSocketActivation() async throws {
        let scratch = try TestDirectory("ds")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 40_000, seed: 3)
        try scratch.write("root/pxelinux.0", content)
        let port = try freeLoopbackUDPPort()
        // "-l PORT" alone binds [::]:PORT accepting IPv4 too, like ListenDatagram=69 with BindIPv6Only=both.
        let service = try ServiceProcess(
            try VolleyBinaries.program("systemd-socket-activate"),
            ["--datagram", "-l", "\(port)", "--fdname=tftp", try VolleyBinaries.volley(), "serve", "--root", scratch.path("root")],
            timeout: 60)
        defer { service.killIfRunning() }
        let listening = try await waitUntilBound(port: port, timeout: 60)
        try #require(listening, "systemd-socket-activate did not bind port \(port); output:\n\(service.stderrText)")
        for (host, output) in [("127.0.0.1", "out4"), ("[::1]", "out6")] {
            let failure = try await curlFetch(host: host, port: port, name: "pxelinux.0", output: scratch.path(output))
            #expect(failure == nil, "\(host): \(failure ?? "")\nvolley stderr:\n\(service.stderrText)")
            #expect(scratch.contents(output) == content ? true : false, "\(host): the fetched file differs")
        }
        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
    }

    // MARK: (b) notifications and the watchdog

    @Test("NOTIFY_SOCKET receives READY=1 with STATUS=, watchdog pings at half WATCHDOG_USEC, live STATUS=, STOPPING=1; exit 0")
    func notifications() async throws {
        let scratch = try TestDirectory("nt")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 3000, seed: 2)
        try scratch.write("root/a.bin", content)
        let notify = try NotifySocketListener(path: scratch.path("notify.sock"))
        defer { notify.close() }
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            ["serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0"],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"], timeout: 60)
        defer { service.killIfRunning() }

        let ready = try await notify.waitFor(timeout: 60) { $0.has("READY=1") }
        try #require(ready != nil, "no READY=1; notifications:\n\(notify.transcript)\nstderr:\n\(service.stderrText)")
        #expect(ready!.message.value(of: "STATUS")?.contains("0 transfers active") == true, "READY message: \(ready!.message.text)")
        let port = try await service.waitForServingPort()

        // WATCHDOG_USEC=1 s → a ping about every 500 ms, from the reactor thread.
        let start = ready!.message.time
        try await Task.sleep(for: .milliseconds(2100))
        let pings = notify.messages.filter { $0.has("WATCHDOG=1") && $0.time >= start && $0.time <= start + 2.0 }
        #expect(pings.count >= 2 && pings.count <= 8, "\(pings.count) watchdog pings in 2 s; notifications:\n\(notify.transcript)")
        let gaps = zip(pings.dropFirst(), pings).map { $0.time - $1.time }
        #expect(gaps.allSatisfy { $0 < 0.9 }, "watchdog gaps \(gaps)")

        // STATUS= follows the live figures (at most once a second).
        let before = notify.messages.count
        let failure = try await curlFetch(port: port, name: "a.bin", output: scratch.path("out"))
        #expect(failure == nil, "\(failure ?? "")")
        #expect(scratch.contents("out") == content ? true : false, "the fetched file differs")
        let status = try await notify.waitFor(from: before, timeout: 5) { $0.value(of: "STATUS")?.contains("1 served") == true }
        #expect(status != nil, "no STATUS= with the finished transfer; notifications:\n\(notify.transcript)")
        let statuses = notify.messages.filter { $0.value(of: "STATUS") != nil && !$0.has("READY=1") }
        let statusGaps = zip(statuses.dropFirst(), statuses).map { $0.time - $1.time }
        #expect(statusGaps.allSatisfy { $0 >= 0.9 }, "STATUS= more often than once a second: \(statusGaps)")

        let beforeStop = notify.messages.count
        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
        let stopping = try await notify.waitFor(from: beforeStop, timeout: 2) { $0.has("STOPPING=1") }
        #expect(stopping != nil, "no STOPPING=1; notifications:\n\(notify.transcript)")
    }

    @Test("without WATCHDOG_USEC there are no watchdog pings")
    func noWatchdogWithoutWatchdogUsec() async throws {
        let scratch = try TestDirectory("nw")
        defer { scratch.remove() }
        try scratch.write("root/a.bin", [1, 2, 3])
        let notify = try NotifySocketListener(path: scratch.path("notify.sock"))
        defer { notify.close() }
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            ["serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0"],
            environment: ["NOTIFY_SOCKET": notify.path], timeout: 60)
        defer { service.killIfRunning() }
        let ready = try await notify.waitFor(timeout: 60) { $0.has("READY=1") }
        try #require(ready != nil, "no READY=1; stderr:\n\(service.stderrText)")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(!notify.messages.contains { $0.has("WATCHDOG=1") }, "notifications:\n\(notify.transcript)")
        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
    }

    // MARK: (c) reload

    @Test("SIGHUP applies a new max_block_size with RELOADING=1 then READY=1; broken configs are refused and the old settings kept")
    func reload() async throws {
        let scratch = try TestDirectory("rl")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 20_000, seed: 3)
        for name in ["before", "after", "broken-1", "broken-2", "broken-3"] {
            try scratch.write("root/\(name).bin", content)
        }
        let config = scratch.path("volley.yaml")
        let base = "root_dir: \(scratch.path("root"))\nhost: \"127.0.0.1\"\nport: 0\n"
        try scratch.write("volley.yaml", Array((base + "max_block_size: 1468\n").utf8))
        let notify = try NotifySocketListener(path: scratch.path("notify.sock"))
        defer { notify.close() }
        let service = try ServiceProcess(
            try VolleyBinaries.volley(), ["serve", "--config", config],
            environment: ["NOTIFY_SOCKET": notify.path], timeout: 90)
        defer { service.killIfRunning() }
        let ready = try await notify.waitFor(timeout: 60) { $0.has("READY=1") }
        try #require(ready != nil, "no READY=1; stderr:\n\(service.stderrText)")
        let port = try await service.waitForServingPort()

        /// Fetches `name` asking for blksize 1468; returns the blksize the server's transfer line reports.
        func fetchedBlockSize(_ name: String) async throws -> String? {
            let failure = try await curlFetch(port: port, name: name + ".bin", output: scratch.path("out-\(name)"), blockSize: 1468)
            #expect(failure == nil, "\(name): \(failure ?? "")\nstderr:\n\(service.stderrText)")
            #expect(scratch.contents("out-\(name)") == content ? true : false, "\(name): the fetched file differs")
            let line = try await service.waitForLine(containing: "\"\(name).bin\" octet", timeout: 10)
            #expect(line?.hasSuffix("delivered") == true, "transfer line: \(line ?? "none")")
            return line?.split(separator: " ").first { $0.hasPrefix("blksize=") }.map(String.init)
        }

        /// Sends SIGHUP and waits for RELOADING=1 (with MONOTONIC_USEC) followed by READY=1.
        func hangUp() async throws {
            let from = notify.messages.count
            service.send(SIGHUP)
            let reloading = try await notify.waitFor(from: from, timeout: 10) { $0.has("RELOADING=1") }
            #expect(
                reloading?.message.value(of: "MONOTONIC_USEC").flatMap { UInt64($0) } != nil,
                "RELOADING=1 without MONOTONIC_USEC: \(reloading?.message.text ?? "none")")
            let readyAgain = try await notify.waitFor(from: (reloading?.index ?? from) + 1, timeout: 10) { $0.has("READY=1") }
            #expect(reloading != nil && readyAgain != nil, "no RELOADING=1 then READY=1; notifications:\n\(notify.transcript)")
        }

        #expect(try await fetchedBlockSize("before") == "blksize=1468")

        try scratch.write("volley.yaml", Array((base + "max_block_size: 512\n").utf8))
        try await hangUp()
        #expect(try await service.waitForLine(containing: "configuration reloaded", timeout: 10) != nil)
        #expect(try await fetchedBlockSize("after") == "blksize=512")

        // Each broken file would raise the limit again if it were (partly) applied.
        let broken = [
            base + "max_block_size: 1468\nmax_blok_size: 1468\n",  // unknown key
            base + "max_block_size: [1468\n",  // not YAML
            base + "max_block_size: 1468\nlog_level: loud\n",  // bad log level
        ]
        for (number, text) in broken.enumerated() {
            let failuresBefore = service.lines(containing: "reload failed, keeping the running configuration").count
            try scratch.write("volley.yaml", Array(text.utf8))
            try await hangUp()
            var failures = 0
            for _ in 0..<100 where failures <= failuresBefore {
                failures = service.lines(containing: "reload failed, keeping the running configuration").count
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(failures == failuresBefore + 1, "broken config \(number + 1) not reported; stderr:\n\(service.stderrText)")
            #expect(service.isRunning)
            #expect(try await fetchedBlockSize("broken-\(number + 1)") == "blksize=512", "broken config \(number + 1) changed the limit")
        }

        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 15)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
    }

    // MARK: (d) drain on SIGTERM

    /// A 20-block file (512-byte blocks, the last one short).
    static let twentyBlocks = SeededBytes.make(count: 19 * 512 + 300, seed: 4)

    @Test("SIGTERM during a slow transfer: no new requests, the transfer finishes byte-exact, then exit 0")
    func drainLetsTransferFinish() async throws {
        let scratch = try TestDirectory("dr")
        defer { scratch.remove() }
        try scratch.write("root/slow.bin", Self.twentyBlocks)
        let notify = try NotifySocketListener(path: scratch.path("notify.sock"))
        defer { notify.close() }
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            ["serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0", "--drain-timeout", "20000"],
            environment: ["NOTIFY_SOCKET": notify.path], timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        // 50 ms between ACKs: about a second for 20 blocks. SIGTERM after block 5.
        let fetchStart = monotonicSeconds()
        let fetched: Result<[UInt8], TestFailure> = try await offload {
            let client = try RawTFTPClient()
            do {
                return .success(
                    try client.slowFetch("slow.bin", serverPort: port, ackDelay: 0.05) { block in
                        if block == 5 { service.send(SIGTERM) }
                    })
            } catch let failure as TestFailure {
                return .failure(failure)
            }
        }
        let fetchEnd = monotonicSeconds()
        switch fetched {
        case .success(let bytes):
            #expect(bytes == Self.twentyBlocks ? true : false, "got \(bytes.count) bytes, expected \(Self.twentyBlocks.count)")
        case .failure(let failure): Issue.record("the transfer in flight did not finish: \(failure)\nstderr:\n\(service.stderrText)")
        }
        #expect(fetchEnd - fetchStart >= 0.7, "the transfer was not slow: \(fetchEnd - fetchStart) s")

        let exit = try await service.waitForExit(timeout: 10)
        let exitTime = monotonicSeconds()
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
        // Exits soon after the last transfer ended, not at the end of the 20 s drain time.
        #expect(exitTime - fetchEnd < 3, "exited \(exitTime - fetchEnd) s after the transfer finished")
        #expect(!service.lines(containing: "letting 1 transfer(s) finish").isEmpty, "stderr:\n\(service.stderrText)")
        #expect(service.lines(containing: "drain time is over").isEmpty)
        #expect(service.lines(containing: "\"slow.bin\" octet").first?.hasSuffix("delivered") == true, "stderr:\n\(service.stderrText)")
        let stopping = notify.messages.first { $0.has("STOPPING=1") }
        #expect(stopping?.value(of: "STATUS")?.contains("Draining 1") == true, "notifications:\n\(notify.transcript)")
    }

    @Test("after SIGTERM new requests get no answer while a transfer drains")
    func drainRefusesNewRequests() async throws {
        let scratch = try TestDirectory("dn")
        defer { scratch.remove() }
        try scratch.write("root/slow.bin", Self.twentyBlocks)
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            ["serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0", "--drain-timeout", "20000"],
            timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        let (answered, fetchedCount): (Bool, Int) = try await offload {
            let slow = try RawTFTPClient()
            let late = try RawTFTPClient()
            var answered = false
            let bytes = try slow.slowFetch("slow.bin", serverPort: port, ackDelay: 0.1) { block in
                if block == 2 { service.send(SIGTERM) }
                if block == 4 {
                    // The signal has been handled by now (200 ms); a new request must go unanswered.
                    late.sendReadRequest("slow.bin", to: loopback(port: port))
                    answered = late.receive(timeout: 0.5) != nil
                }
            }
            return (answered, bytes.count)
        }
        #expect(!answered, "a request sent during the drain was answered")
        #expect(fetchedCount == Self.twentyBlocks.count)
        let exit = try await service.waitForExit(timeout: 10)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
    }

    @Test("a second SIGTERM during the drain stops at once, exit 0")
    func secondSignalStopsAtOnce() async throws {
        let scratch = try TestDirectory("d2")
        defer { scratch.remove() }
        try scratch.write("root/slow.bin", Self.twentyBlocks)
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            [
                "serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0",
                "--drain-timeout", "30000", "--retransmit-timeout", "5000",
            ],
            timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        // Take two blocks, then stall (never ACK block 2): the transfer stays in flight.
        let stalled: Bool = try await offload {
            let client = try RawTFTPClient()
            client.sendReadRequest("slow.bin", to: loopback(port: port))
            guard let first = client.receive(timeout: 5), case .data(1, _)? = first.packet else { return false }
            client.send(.acknowledgement(block: 1), to: first.source)
            guard let second = client.receive(timeout: 5), case .data(2, _)? = second.packet else { return false }
            return true
        }
        try #require(stalled, "the transfer did not start; stderr:\n\(service.stderrText)")

        service.send(SIGTERM)
        let draining = try await service.waitForLine(containing: "letting 1 transfer(s) finish", timeout: 5)
        try #require(draining != nil, "no drain after the first SIGTERM; stderr:\n\(service.stderrText)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(service.isRunning, "volley did not wait for the transfer in flight")

        let second = monotonicSeconds()
        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 10)
        let took = monotonicSeconds() - second
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
        #expect(took < 2, "the second SIGTERM took \(took) s to stop volley (drain time is 30 s)")
        #expect(!service.lines(containing: "second signal: stopping now").isEmpty, "stderr:\n\(service.stderrText)")
    }
}
