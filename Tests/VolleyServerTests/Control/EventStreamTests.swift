import Foundation
import Glibc
import Testing
import VolleySystem

/// `GET /v1/events` (Server-Sent Events) and `volley watch`.
@Suite("control plane: the event stream", .serialized, .timeLimit(.minutes(3)))
struct EventStreamTests {
    /// The SSE messages of a stream's text: (event, JSON object).
    static func messages(_ text: String) -> [(event: String, json: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            let lines = block.split(separator: "\n")
            guard let event = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                let json = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]
            else { return nil }
            return (String(event), json)
        }
    }

    @Test("Events as they happen, filtered by type, client and path, and resumed with Last-Event-ID")
    func streamFilterResume() async throws {
        let fixture = try await ControlPlaneFixture("cp-events")
        defer { fixture.stop() }
        let content = SeededBytes.make(count: 3000, seed: 5)
        _ = try fixture.scratch.write("root/boot/kernel.img", content)
        let socket = fixture.server
        // A replay from the ring: every event after `lastID`, then two seconds of live ones.
        func stream(_ query: String, after lastID: Int = 0) async throws -> ProcessResult {
            try await runProcess(
                "curl",
                arguments: ["-sN", "--max-time", "2", "--unix-socket", socket, "-H", "Last-Event-ID: \(lastID)"]
                    + ["http://localhost/v1/events\(query)"], timeout: 30)
        }
        // Live: a stream opened before anything happens, read until its third event (however loaded the machine).
        let live = try ServiceProcess(
            try VolleyBinaries.program("curl"), ["-sN", "--unix-socket", socket, "http://localhost/v1/events"], timeout: 60)
        defer { live.killIfRunning() }
        for _ in 0..<250 where !live.stdoutText.contains(": volley events") { try await Task.sleep(for: .milliseconds(20)) }
        let port = fixture.tftpPort
        let fetched = try await offload { try RawTFTPClient().fetch("boot/kernel.img", from: loopback(port: port)) }
        #expect(fetched.bytes == content)
        // The final ACK and the next request could reach the reactor in one batch, in either
        // order: the next request waits until the transfer has ended.
        for _ in 0..<100 where try await fixture.curl("GET", "/v1/transfers").jsonArray?.isEmpty != true {
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await offload { try? RawTFTPClient().fetch("missing.img", from: loopback(port: port), timeout: 1) }
        for _ in 0..<1500 where Self.messages(live.stdoutText).count < 3 { try await Task.sleep(for: .milliseconds(20)) }

        let allText = live.stdoutText
        let finishedText = try await stream("?type=finished&path=boot/*").stdout
        let elsewhereText = try await stream("?client=10.0.0.0/8").stdout
        let everything = Self.messages(allText)
        #expect(everything.map(\.event) == ["started", "finished", "refused"], "\(allText)")
        let end = try #require(everything.dropFirst().first?.json)
        #expect(end["file"] as? String == "boot/kernel.img" && end["outcome"] as? String == "delivered")
        #expect(end["bytes"] as? Int == content.count && end["protocol"] as? String == "tftp")
        #expect((end["options"] as? [String: Any])?["blksize"] as? Int == 512)
        #expect(everything.last?.json["reason"] as? String == "file_not_found")
        #expect(Self.messages(finishedText).map(\.event) == ["finished"], "\(finishedText)")
        #expect(Self.messages(elsewhereText).isEmpty, "\(elsewhereText)")

        // Resumed after the first event: the two after it come first, from the server's ring.
        let firstID = try #require(everything.first?.json["id"] as? Int)
        let resumed = Self.messages(try await stream("", after: firstID).stdout)
        #expect(resumed.map(\.event) == ["finished", "refused"])
        #expect(try await fixture.curl("GET", "/v1/events?type=nonsense").status == 400)
        #expect(try await fixture.curl("GET", "/v1/events?client=300.1.1.1").status == 400)
        #expect(try await fixture.curl("GET", "/v1/events?mac=52:54:00").status == 400)
    }

    @Test("A hostile name (quotes, backslashes, control characters, non-ASCII) arrives in the event's JSON exactly")
    func hostileNameInJSON() async throws {
        let fixture = try await ControlPlaneFixture("cp-json")
        defer { fixture.stop() }
        let name = "a \"quoted\"\\name\t\u{1}\u{7f}é/../x.img"
        let port = fixture.tftpPort
        _ = try await offload { try? RawTFTPClient().fetch(name, from: loopback(port: port), timeout: 1) }
        let result = try await runProcess(
            "curl",
            arguments: ["-sN", "--max-time", "2", "--unix-socket", fixture.server, "-H", "Last-Event-ID: 0", "http://localhost/v1/events"],
            timeout: 30)
        let events = Self.messages(result.stdout)
        #expect(events.count == 1 && events.first?.json["file"] as? String == name, "\(result.stdout)")
        #expect(events.first?.json["reason"] as? String != nil && events.first?.json["time"] as? String != nil)
    }

    @Test("A transfer that advances reports progress at most once a second; /v1/transfers and volley watch show it")
    func progressEvents() async throws {
        let fixture = try await ControlPlaneFixture("cp-progress")
        defer { fixture.stop() }
        let blocks = 24
        let content = SeededBytes.make(count: blocks * 512 - 100, seed: 8)
        _ = try fixture.scratch.write("root/slow.img", content)
        let socket = fixture.server
        let streamed = try ServiceProcess(
            try VolleyBinaries.program("curl"), ["-sN", "--unix-socket", socket, "-H", "Last-Event-ID: 0", "http://localhost/v1/events"],
            timeout: 60)
        defer { streamed.killIfRunning() }
        let watch = try ServiceProcess(try VolleyBinaries.volley(), ["watch", "--server", socket, "--type", "progress"], timeout: 60)
        defer { watch.killIfRunning() }
        // A lockstep client that waits 150 ms before each ACK: about 3.6 s in flight.
        let client = try RawTFTPClient()
        let port = fixture.tftpPort
        client.sendReadRequest("slow.img", to: loopback(port: port))
        var received: [UInt8] = []
        var midway: [[String: Any]] = []
        for block in 1...blocks {
            // The server's timer may send the last block again while this client dawdles: skip those.
            let datagram = try #require(
                try await offload {
                    while let datagram = client.receive(timeout: 5) {
                        guard case .data(let number, _)? = datagram.packet, number < UInt16(block) else { return datagram }
                    }
                    return nil
                }, "no DATA \(block)")
            guard case .data(let number, let payload)? = datagram.packet, number == UInt16(block) else {
                Issue.record("expected DATA \(block), got \(String(describing: datagram.packet))")
                return
            }
            received += payload
            try await Task.sleep(for: .milliseconds(150))
            if block == 18 { midway = try await fixture.curl("GET", "/v1/transfers").jsonArray ?? [] }
            client.send(.acknowledgement(block: number), to: datagram.source)
        }
        #expect(received == content)

        for _ in 0..<500 where !Self.messages(streamed.stdoutText).contains(where: { $0.event == "finished" }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let events = Self.messages(streamed.stdoutText)
        #expect(events.first?.event == "started" && events.last?.event == "finished", "\(events.map(\.event))")
        let progress = events.filter { $0.event == "progress" }.map(\.json)
        // About 3.6 s of advancing: 2 to 4 reports, never two within a second.
        #expect((2...4).contains(progress.count), "\(progress)")
        let elapsed = progress.compactMap { $0["elapsed_s"] as? Double }
        #expect(zip(elapsed, elapsed.dropFirst()).allSatisfy { $1 - $0 >= 0.99 }, "\(elapsed)")
        let acknowledged = progress.compactMap { $0["acknowledged"] as? Int }
        #expect(acknowledged.count == progress.count && acknowledged == acknowledged.sorted() && (acknowledged.last ?? 0) > 0)
        #expect(acknowledged.allSatisfy { $0 <= content.count && $0 % 512 == 0 }, "\(acknowledged)")
        #expect(progress.allSatisfy { $0["size"] == nil && $0["served"] as? String == "slow.img" && $0["file"] as? String == "slow.img" })
        // Listed in flight with its latest progress.
        #expect(midway.count == 1 && (midway.first?["acknowledged"] as? Int ?? 0) > 0, "\(midway)")
        #expect(midway.first?["served"] as? String == "slow.img", "\(midway)")
        var lines: [String] = []
        for _ in 0..<40 where lines.count < progress.count {
            lines = watch.stdoutText.split(separator: "\n").map(String.init).filter { $0.contains(" progress ") }
            if lines.count < progress.count { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(
            lines.count == progress.count && lines.allSatisfy { $0.contains("\"slow.img\"") && $0.contains(" bytes after ") },
            "\(watch.stdoutText)")
    }

    @Test("GET /v1/transfers lists the transfers in flight, and a transfer leaves it when it ends")
    func transfersInFlight() async throws {
        let fixture = try await ControlPlaneFixture("cp-transfers")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/big.img", SeededBytes.make(count: 50_000, seed: 3))
        #expect(try await fixture.curl("GET", "/v1/transfers").jsonArray?.isEmpty == true)
        // A client that takes the first block and never acknowledges it: in flight.
        let client = try RawTFTPClient()
        let port = fixture.tftpPort
        client.sendReadRequest("big.img", options: [("blksize", "1024")], to: loopback(port: port))
        let first = try #require(try await offload { client.receive(timeout: 5) }, "no answer to the request")
        var listed: [[String: Any]] = []
        for _ in 0..<50 where listed.isEmpty {
            listed = try await fixture.curl("GET", "/v1/transfers").jsonArray ?? []
            if listed.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(listed.count == 1, "\(listed)")
        #expect(listed.first?["file"] as? String == "big.img" && listed.first?["blksize"] as? Int == 1024, "\(listed)")
        #expect(listed.first?["client"] as? String == client.localAddress.description)
        client.send(.error(code: .notDefined, message: "enough"), to: first.source)
        var left: [[String: Any]]? = nil
        for _ in 0..<100 where left?.isEmpty != true {
            try await Task.sleep(for: .milliseconds(50))
            left = try await fixture.curl("GET", "/v1/transfers").jsonArray
        }
        #expect(left?.isEmpty == true, "the aborted transfer is still listed: \(String(describing: left))")
    }

    @Test("GET /v1/clients and volley clients: one entry per board with its fetches and last error, bounded at 4,096 boards")
    func clientsTable() async throws {
        let fixture = try await ControlPlaneFixture(
            "cp-clients", extraArguments: ["--request-rate-per-client", "0", "--error-rate-per-client", "0", "--error-rate-total", "0"])
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/hello.txt", Array("hello".utf8))
        let port = fixture.tftpPort
        _ = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("hello.txt", from: loopback(port: port)) }
        _ = try await offload { try? RawTFTPClient(ip: "127.0.0.3").fetch("missing.txt", from: loopback(port: port), timeout: 1) }
        let boards = try #require(try await fixture.curl("GET", "/v1/clients").jsonArray)
        let good = try #require(boards.first { $0["client"] as? String == "127.0.0.2" }, "\(boards)")
        let fetches = good["fetches"] as? [[String: Any]] ?? []
        #expect(fetches.count == 1 && fetches[0]["file"] as? String == "hello.txt" && fetches[0]["outcome"] as? String == "delivered")
        #expect(good["last_error"] == nil && (good["in_flight"] as? [Any])?.isEmpty == true)
        let bad = try #require(boards.first { $0["client"] as? String == "127.0.0.3" }, "\(boards)")
        #expect((bad["last_error"] as? String)?.contains("missing.txt: refused, file_not_found") == true, "\(bad)")
        let listed = try await fixture.volley(["clients"])
        #expect(listed.stdout.contains("127.0.0.2  last seen ") && listed.stdout.contains("last: hello.txt delivered"), "\(listed)")
        #expect(listed.stdout.contains("127.0.0.3  last seen ") && listed.stdout.contains("error: missing.txt"), "\(listed)")

        // Past the bound: 6,000 more boards (127.0.10.1 on), paced so that the kernel keeps their requests.
        try await offload {
            for index in 0..<6_000 {
                let board = try RawTFTPClient(ip: "127.0.\(10 + index / 250).\(1 + index % 250)")
                board.sendReadRequest("missing.txt", to: loopback(port: port))
                if index % 250 == 249 { usleep(20_000) }
            }
        }
        var count = 0
        for _ in 0..<100 where count < 4096 {
            count = try await fixture.curl("GET", "/v1/clients").jsonArray?.count ?? 0
            if count < 4096 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(count == 4096, "the table holds \(count) boards")
        let last = try await fixture.curl("GET", "/v1/clients").jsonArray ?? []
        #expect(!last.contains { $0["client"] as? String == "127.0.0.2" }, "the least recently seen board was not the one to go")
    }

    @Test("volley watch prints one line per event, and --json the server's objects")
    func watch() async throws {
        let fixture = try await ControlPlaneFixture("cp-watch")
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/hello.txt", Array("hello".utf8))
        let volley = try VolleyBinaries.volley()
        let lines = try ServiceProcess(volley, ["watch", "--server", fixture.server], timeout: 60)
        let json = try ServiceProcess(volley, ["watch", "--server", fixture.server, "--json", "--type", "finished"], timeout: 60)
        defer {
            lines.killIfRunning()
            json.killIfRunning()
        }
        // Fetched until both watchers have seen a transfer end (they may take a moment to subscribe).
        let port = fixture.tftpPort
        for _ in 0..<100 where !(lines.stdoutText.contains(" finished ") && json.stdoutText.contains("\"finished\"")) {
            _ = try await offload { try RawTFTPClient().fetch("hello.txt", from: loopback(port: port)) }
            try await Task.sleep(for: .milliseconds(100))
        }
        let printed = lines.stdoutText.split(separator: "\n")
        let start = try #require(printed.first { $0.contains(" started ") }, "\(printed)")
        #expect(start.contains(" started 127.0.0.1:") && start.contains("\"hello.txt\" blksize=512 windowsize=1"), "\(start)")
        let end = try #require(printed.first { $0.contains(" finished ") }, "\(printed)")
        #expect(end.contains("\"hello.txt\" delivered 5 bytes in"), "\(end)")
        let objects = json.stdoutText.split(separator: "\n")
        let object = try #require((try? JSONSerialization.jsonObject(with: Data(objects[0].utf8))) as? [String: Any])
        #expect(object["type"] as? String == "finished" && object["file"] as? String == "hello.txt")
        #expect(objects.allSatisfy { $0.contains("\"type\":\"finished\"") }, "--type finished let others through")
    }

    @Test("SIGTERM with a volley watch attached: the stream ends, and both exit at once")
    func shutdownEndsStreams() async throws {
        let fixture = try await ControlPlaneFixture("cp-events-shutdown")
        defer { fixture.stop() }
        let watch = try ServiceProcess(try VolleyBinaries.volley(), ["watch", "--server", fixture.server], timeout: 60)
        defer { watch.killIfRunning() }
        // Refused requests until the watch prints one: then it is surely subscribed.
        let port = fixture.tftpPort
        for _ in 0..<100 where !watch.stdoutText.contains(" refused ") {
            _ = try await offload { try? RawTFTPClient().fetch("missing.img", from: loopback(port: port), timeout: 0.2) }
        }
        #expect(watch.stdoutText.contains(" refused "), "the watch printed nothing")
        fixture.service.send(SIGTERM)
        let served = try await fixture.service.waitForExit(timeout: 10)
        #expect(served.isCleanExit, "volley serve did not end on SIGTERM with a stream open: \(fixture.service.stderrText)")
        let watched = try await watch.waitForExit(timeout: 10)
        #expect(!watched.timedOut && watch.stderrText.contains("the server ended the event stream"), "\(watch.stderrText)")
    }

    @Test("A subscriber that stops reading is dropped with a last 'dropped' event; TFTP is served all along")
    func stalledSubscriberIsDropped() async throws {
        let fixture = try await ControlPlaneFixture(
            "cp-events-stall",
            extraArguments: ["--request-rate-per-client", "0", "--error-rate-per-client", "0", "--error-rate-total", "0"])
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/a.img", SeededBytes.make(count: 100_000, seed: 8))
        // A client that asks for the stream and never reads it.
        let stalled = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(stalled >= 0)
        defer { close(stalled) }
        var small: Int32 = 4096
        setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &small, 4)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in fixture.server.utf8.enumerated() where index < path.count - 1 { path[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(stalled, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(connected == 0)
        let request = Array("GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { write(stalled, $0.baseAddress, $0.count) } == request.count)

        // Far more refusals than the subscriber's buffers hold (about 5,000 events), counted
        // by the server itself since a loaded kernel drops some of the requests; then a real transfer.
        let port = fixture.tftpPort
        let blaster = try RawTFTPClient()
        var refused = 0.0
        for batch in 0..<200 where refused < 20_000 {
            try await offload {
                for index in 0..<1000 { blaster.sendReadRequest("missing-\(batch)-\(index)", to: loopback(port: port)) }
            }
            try await Task.sleep(for: .milliseconds(30))
            refused = PrometheusText(try await fixture.curl("GET", "/metrics").text).value("volley_requests_refused_total") ?? 0
        }
        #expect(refused >= 20_000, "the server refused only \(refused) requests")
        // curl, which asks again as boot clients do: the tail of the burst may still be queued.
        let output = fixture.scratch.path("a.out")
        let fetched = try await runProcess(
            "curl", arguments: ["-s", "--max-time", "30", "-o", output, "tftp://127.0.0.1:\(port)/a.img"], timeout: 60)
        #expect(fetched.status == 0, "\(fetched)")
        #expect(fixture.scratch.contents("a.out") == SeededBytes.make(count: 100_000, seed: 8), "TFTP suffered from the stalled subscriber")

        // Now read what the stalled client was sent: events, then the drop, then the end.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let count = buffer.withUnsafeMutableBytes { read(stalled, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            received += buffer[..<count]
            if String(decoding: received.suffix(400), as: UTF8.self).contains("event: dropped") { break }
        }
        let text = String(decoding: received, as: UTF8.self)
        #expect(text.contains("event: refused"), "no events before the drop")
        #expect(text.contains("event: dropped"), "the stalled subscriber was not dropped (\(received.count) bytes read)")
        #expect(try await fixture.curl("GET", "/v1/server").status == 200)
    }
}
