import Foundation
import Glibc
import TFTPProtocol
import Testing
import VolleySystem

/// The live page at `/` of the control plane: served without the token from the binary, and
/// what a real browser (headless Chromium, driven by `scripts/live-page-probe`) shows of a
/// storm of 50 boards with failures and a stalled transfer.
@Suite("control plane: the live page", .serialized, .timeLimit(.minutes(3)))
struct LivePageTests {
    static let token = "live-page-s3cret-7f3a9c"

    /// The package root (Tests/VolleyServerTests/Control/<file> → root).
    static func repositoryPath(_ relative: String, filePath: String = #filePath) -> String {
        var root = filePath as NSString
        for _ in 0..<4 { root = root.deletingLastPathComponent as NSString }
        return (root as String) + "/" + relative
    }

    /// Chromium, when installed.
    static var chromium: String? {
        let path = executablePath("chromium")
        return path.hasPrefix("/") ? path : nil
    }

    /// Under CI a missing browser fails the test instead of skipping it.
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test("GET / and its script and style are served without the token, from the binary; everything else still needs it")
    func servedWithoutToken() async throws {
        let fixture = try await ControlPlaneFixture("cp-live-page-auth", listen: "127.0.0.1:0", token: Self.token)
        defer { fixture.stop() }
        let assets = [
            ("/", "index.html", "text/html; charset=utf-8"), ("/ui/live.js", "live.js", "text/javascript; charset=utf-8"),
            ("/ui/live.css", "live.css", "text/css; charset=utf-8"), ("/ui/icon.svg", "icon.svg", "image/svg+xml"),
        ]
        for (path, file, type) in assets {
            let answer = try await fixture.curl("GET", path, token: "")
            #expect(answer.status == 200, "\(path): \(answer.status) \(answer.text)")
            #expect(ControlPlaneFixture.header("Content-Type", in: answer.headers) == type, "\(path): \(answer.headers)")
            #expect(ControlPlaneFixture.header("Cache-Control", in: answer.headers) == "no-store")
            let policy = ControlPlaneFixture.header("Content-Security-Policy", in: answer.headers) ?? ""
            #expect(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "\(path): \(policy)")
            #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(path): \(policy)")
            // Byte for byte the file in the source tree, compiled in; nothing from elsewhere.
            let source = try #require(FileManager.default.contents(atPath: Self.repositoryPath("Sources/VolleyControl/LivePage/\(file)")))
            #expect(answer.body == [UInt8](source), "\(path) is not the embedded \(file)")
            let text = answer.text.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
            #expect(!text.contains("://"), "\(path) names another origin")
            let head = try await fixture.curl("HEAD", path, token: "")
            #expect(head.status == 200, "HEAD \(path): \(head.status)")
            #expect(ControlPlaneFixture.header("Content-Length", in: head.headers) == "\(source.count)", "HEAD \(path): \(head.headers)")
        }
        #expect(try await fixture.curl("GET", "/?stall=2", token: "").status == 200)
        // The API, the other routes and other methods on the page's paths still need the token.
        for path in ["/v1/clients", "/v1/transfers", "/v1/events", "/v1/server", "/metrics", "/healthz", "/index.html", "/ui/", "/ui/x.js"]
        {
            #expect(try await fixture.curl("GET", path, token: "").status == 401, "\(path) without the token")
        }
        #expect(try await fixture.curl("POST", "/", token: "").status == 401)
        #expect(try await fixture.curl("PUT", "/ui/live.js", body: [1], token: "").status == 401)
        #expect(try await fixture.curl("GET", "/v1/clients").status == 200)
    }

    /// What each storm client does, and the outcome the page must show for it.
    enum Role: Sendable {
        case fetch(file: String, options: [String])
        case missing
        case abort(file: String)

        var outcome: String {
            switch self {
            case .fetch: "delivered"
            case .missing: "refused"
            case .abort: "aborted_by_client"
            }
        }
    }

    @Test(
        "50 boards fetch at once (refusals, aborts, one stalled transfer): headless Chromium shows each outcome, failed first, the stall marked",
        .enabled(if: chromium != nil || inCI, "chromium is not installed (scripts/bootstrap installs it)"))
    func stormInBrowser() async throws {
        let chromium = try #require(Self.chromium, "chromium is not installed; CI must install it (scripts/bootstrap)")
        // A long first retransmission timeout keeps the stalled transfer in flight for the whole test.
        let fixture = try await ControlPlaneFixture(
            "cp-live-page", listen: "127.0.0.1:0", token: Self.token,
            extraArguments: [
                "--request-rate-per-client", "0", "--error-rate-per-client", "0", "--error-rate-total", "0", "--retransmit-timeout",
                "30000",
            ])
        defer { fixture.stop() }
        let files: [String: [UInt8]] = [
            "boot/kernel.img": SeededBytes.make(count: 120_000, seed: 21), "boot/initrd.img": SeededBytes.make(count: 64_000, seed: 22),
            "boot/boot.cfg": SeededBytes.make(count: 700, seed: 23), "big.img": SeededBytes.make(count: 400_000, seed: 24),
        ]
        for (name, content) in files { _ = try fixture.scratch.write("root/" + name, content) }

        // The browser first: it loads the page before the storm, so what it shows comes from the event stream.
        let artifacts = Self.repositoryPath(".build/test-artifacts")
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts + "/live-page.png"
        unlink(screenshot)
        let url = fixture.server + "/?stall=2"
        let until = """
            (() => { const rows = [...document.querySelectorAll('tr[data-board]')];
              return rows.length >= 50 && rows.filter((r) => r.dataset.lastOutcome).length >= 49
                && document.querySelector('[data-transfer][data-stalled="true"] .marker') !== null; })()
            """
        let probe = try await Probe.start(url: url, until: until, screenshot: screenshot, chromium: chromium)

        // One stalled client: it takes the first block of big.img and then says nothing.
        let port = fixture.tftpPort
        let stalled = try RawTFTPClient(ip: "127.0.0.2")
        stalled.sendReadRequest("big.img", to: loopback(port: port))
        let first = try #require(try await offload { stalled.receive(timeout: 5) }, "no answer to the stalled client's request")
        defer { stalled.send(.error(code: .notDefined, message: "test over"), to: first.source) }

        // 49 more, at once, each from its own address: 40 fetch, 5 ask for a missing file, 4 abort.
        var plan: [String: Role] = [:]
        for index in 3...51 {
            let ip = "127.0.0.\(index)"
            switch index {
            case 3...7: plan[ip] = .missing
            case 8...11: plan[ip] = .abort(file: "boot/kernel.img")
            default:
                let file = ["boot/kernel.img", "boot/initrd.img", "boot/boot.cfg"][index % 3]
                plan[ip] = .fetch(file: file, options: index % 2 == 0 ? ["blksize", "1468", "windowsize", "4"] : [])
            }
        }
        let observed = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for (ip, role) in plan {
                group.addTask { (ip, try await offload { try Self.act(role, ip: ip, port: port, files: files) }) }
            }
            var observed: [String: String] = [:]
            for try await (ip, outcome) in group { observed[ip] = outcome }
            return observed
        }
        #expect(observed == plan.mapValues(\.outcome), "the clients themselves saw other outcomes")

        let (report, stdout) = try await probe.report()
        #expect(report["error"] == nil, "\(report["error"] ?? "")\nserver: \(fixture.service.stderrText.suffix(2000))")
        print("live page screenshot: \(screenshot)")
        #expect(access(screenshot, R_OK) == 0, "no screenshot at \(screenshot)")
        let expected = plan.mapValues(\.outcome)
        let live = try #require(report["first"] as? [String: Any], "no report of the live page")
        Self.check(live, url: url, expected: expected, stalledIP: "127.0.0.2", fromEvents: true)
        let reloaded = try #require(report["reloaded"] as? [String: Any], "no report after the reload")
        Self.check(reloaded, url: url, expected: expected, stalledIP: "127.0.0.2", fromEvents: false)
        // The token went only into the Authorization header: not into the page, nor the server's log.
        #expect(!stdout.contains(Self.token), "the token is in the page")
        #expect(!fixture.service.stderrText.contains(Self.token), "the token is in the server's log")
    }

    @Test(
        "1,000 boards: every one listed, the failed first, and no main-thread task over a second, live and after a reload",
        .enabled(if: chromium != nil || inCI, "chromium is not installed (scripts/bootstrap installs it)"))
    func thousandBoards() async throws {
        let chromium = try #require(Self.chromium, "chromium is not installed; CI must install it (scripts/bootstrap)")
        let fixture = try await ControlPlaneFixture(
            "cp-live-page-1000", listen: "127.0.0.1:0", token: Self.token,
            extraArguments: ["--request-rate-per-client", "0", "--error-rate-per-client", "0", "--error-rate-total", "0"])
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/hello.txt", Array("hello".utf8))
        let artifacts = Self.repositoryPath(".build/test-artifacts")
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts + "/live-page-1000.png"
        unlink(screenshot)
        let until = "document.querySelectorAll('tr[data-board]').length >= 1000"
        let probe = try await Probe.start(url: fixture.server + "/", until: until, screenshot: screenshot, chromium: chromium)

        // 127.0.20.1 … 127.0.23.250: every tenth fetches hello.txt, the others ask for a missing file.
        let addresses = (0..<1000).map { "127.0.\(20 + $0 / 250).\(1 + $0 % 250)" }
        let port = fixture.tftpPort
        var missing = Set(addresses)
        for _ in 0..<5 where !missing.isEmpty {
            let round = addresses.filter { missing.contains($0) }
            try await offload {
                for (index, ip) in round.enumerated() {
                    let client = try RawTFTPClient(ip: ip)
                    if ip.hasSuffix("0") {
                        _ = try client.fetch("hello.txt", from: loopback(port: port))
                    } else {
                        client.sendReadRequest("missing.img", to: loopback(port: port))
                    }
                    if index % 100 == 99 { usleep(10_000) }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let listed = try await fixture.curl("GET", "/v1/clients").jsonArray ?? []
            missing.subtract(listed.compactMap { $0["client"] as? String })
        }
        #expect(missing.isEmpty, "the server never saw \(missing.count) of the boards")

        let (report, _) = try await probe.report()
        #expect(report["error"] == nil, "\(report["error"] ?? "")")
        print("live page screenshot (1,000 boards): \(screenshot)")
        for label in ["first", "reloaded"] {
            let page = try #require(report[label] as? [String: Any], "no \(label) report")
            let boards = page["boards"] as? [[String: Any]] ?? []
            #expect(boards.count == 1000, "\(label): \(boards.count) boards listed")
            let states = boards.map { $0["state"] as? String ?? "" }
            #expect(
                states == Array(repeating: "failed", count: 900) + Array(repeating: "ok", count: 100), "\(label): failed boards not first")
            let summary = page["summary"] as? [String: Any] ?? [:]
            #expect(summary["boards"] as? String == "1000" && summary["failed"] as? String == "900", "\(label): \(summary)")
            let longTasks = page["longTasks"] as? [Int] ?? []
            print("live page, 1,000 boards, \(label): main-thread tasks over 50 ms: \(longTasks)")
            #expect(longTasks.allSatisfy { $0 < 1000 }, "\(label): the page blocked for \(longTasks.max() ?? 0) ms")
            let problems = (page["problems"] as? [String] ?? []).filter {
                !(label == "first" && $0.contains("status of 401 (Unauthorized)") && $0.contains("/v1/"))
            }
            #expect(problems.isEmpty, "\(label): the page reported problems: \(problems)")
        }
    }

    @Test(
        "A cut event stream: the page says it is reconnecting, resumes with Last-Event-ID and shows what happened meanwhile",
        .enabled(if: chromium != nil || inCI, "chromium is not installed (scripts/bootstrap installs it)"))
    func resumesAfterCut() async throws {
        let chromium = try #require(Self.chromium, "chromium is not installed; CI must install it (scripts/bootstrap)")
        let fixture = try await ControlPlaneFixture(
            "cp-live-page-resume", listen: "127.0.0.1:0", token: Self.token,
            extraArguments: ["--request-rate-per-client", "0", "--error-rate-per-client", "0", "--error-rate-total", "0"])
        defer { fixture.stop() }
        _ = try fixture.scratch.write("root/hello.txt", Array("hello".utf8))
        let artifacts = Self.repositoryPath(".build/test-artifacts")
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let resume = fixture.scratch.path("resume")
        // The probe puts a proxy between page and server: once the page shows a board, it cuts
        // the page's connections and refuses new ones until `resume` exists.
        let probe = try await Probe.start(
            url: fixture.server + "/", until: "document.querySelectorAll('tr[data-board]').length >= 4",
            screenshot: artifacts + "/live-page-resume.png", chromium: chromium, reload: false,
            extra: ["--cut-until", resume, "--cut-after", "document.querySelectorAll('tr[data-board]').length >= 1"])
        let port = fixture.tftpPort
        // One fetch the page sees live (events 1 and 2), so it has an id to resume from.
        _ = try await offload { try RawTFTPClient(ip: "127.0.0.2").fetch("hello.txt", from: loopback(port: port)) }
        let deadline = monotonicSeconds() + 30
        while !probe.process.stdoutSoFar.contains("\"cut\"") && probe.process.isRunning && monotonicSeconds() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(probe.process.stdoutSoFar.contains("\"cut\""), "the page's stream was not cut: \(probe.process.stdoutSoFar)")
        // While it is cut off: two more fetches and a refusal.
        try await offload {
            _ = try RawTFTPClient(ip: "127.0.0.3").fetch("hello.txt", from: loopback(port: port))
            _ = try RawTFTPClient(ip: "127.0.0.4").fetch("hello.txt", from: loopback(port: port))
            _ = try? RawTFTPClient(ip: "127.0.0.5").fetch("missing.img", from: loopback(port: port), timeout: 2)
        }
        _ = try fixture.scratch.write("resume", [])

        let (report, _) = try await probe.report()
        #expect(report["error"] == nil, "\(report["error"] ?? "")")
        let page = try #require(report["first"] as? [String: Any], "no report")
        let boards = page["boards"] as? [[String: Any]] ?? []
        let outcomes = Dictionary(
            boards.map { ($0["address"] as? String ?? "", $0["lastOutcome"] as? String ?? "") }, uniquingKeysWith: { a, _ in a })
        #expect(
            outcomes == ["127.0.0.2": "delivered", "127.0.0.3": "delivered", "127.0.0.4": "delivered", "127.0.0.5": "refused"],
            "\(outcomes)")
        // Replayed events, not a new snapshot: each fetch names its client's port, which only events carry.
        for board in boards {
            let client = (board["fetches"] as? [[String: Any]])?.first?["client"] as? String ?? ""
            #expect(client.hasPrefix("\(board["address"] ?? "?"):"), "\(board)")
        }
        #expect(boards.first?["address"] as? String == "127.0.0.5", "the failed board is not first: \(boards)")
        let requests = page["eventRequests"] as? [[String: Any]] ?? []
        let resumedFrom = requests.compactMap { $0["lastEventID"] as? String }
        #expect(!resumedFrom.isEmpty && resumedFrom.allSatisfy { $0 == "2" }, "GET /v1/events requests: \(requests)")
        #expect(page["connection"] as? String == "live")
        let problems = (page["problems"] as? [String] ?? []).filter {
            !($0.contains("/v1/") && ($0.contains("status of 401 (Unauthorized)") || $0.contains("net::ERR_")))
        }
        #expect(problems.isEmpty, "the page reported problems: \(problems)")
    }

    /// `scripts/live-page-probe` (headless Chromium) looking at the page, with the token in its
    /// environment, never on its command line.
    struct Probe {
        let process: RunningProcess

        /// Starts the probe and waits (at most 30 s) until the page is live.
        static func start(
            url: String, until: String, screenshot: String, chromium: String, reload: Bool = true, extra: [String] = []
        ) async throws -> Probe {
            var environment = ProcessInfo.processInfo.environment
            environment["VOLLEY_TOKEN"] = LivePageTests.token
            let process = try RunningProcess(
                "python3",
                arguments: [
                    LivePageTests.repositoryPath("scripts/live-page-probe"), "--url", url, "--until", until, "--timeout", "30",
                    "--screenshot", screenshot, "--chromium", chromium,
                ] + (reload ? ["--reload"] : []) + extra, timeout: 150, environment: environment)
            let deadline = monotonicSeconds() + 30
            while !process.stdoutSoFar.contains("\"ready\"") && process.isRunning && monotonicSeconds() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            guard process.stdoutSoFar.contains("\"ready\"") else {
                process.signal(SIGKILL)
                throw TestFailure("the page did not come up: \(process.stdoutSoFar) \(process.stderrSoFar)")
            }
            return Probe(process: process)
        }

        /// Waits for the probe to end; its report and everything it printed.
        func report() async throws -> (report: [String: Any], stdout: String) {
            let finished = try await process.wait()
            guard
                let report = finished.stdout.split(separator: "\n").last.flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) })
                    as? [String: Any]
            else { throw TestFailure("the probe printed no report: \(finished)") }
            return (report, finished.stdout)
        }
    }

    /// Runs one storm client; returns the outcome it saw.
    static func act(_ role: Role, ip: String, port: Int, files: [String: [UInt8]]) throws -> String {
        let client = try RawTFTPClient(ip: ip)
        switch role {
        case .fetch(let file, let options):
            let pairs = stride(from: 0, to: options.count, by: 2).map { (options[$0], options[$0 + 1]) }
            let fetched = try client.fetch(file, options: pairs, from: loopback(port: port))
            return fetched.bytes == files[file] ? "delivered" : "corrupted (\(fetched.bytes.count) bytes)"
        case .missing:
            do {
                _ = try client.fetch("missing-\(ip).img", from: loopback(port: port), timeout: 5)
                return "served a missing file"
            } catch let error as ServerErrorReply {
                return error.code == 1 ? "refused" : "ERROR \(error.code)"
            }
        case .abort(let file):
            client.sendReadRequest(file, to: loopback(port: port))
            guard let first = client.receive(timeout: 5), case .data = first.packet else { return "no first block" }
            client.send(.error(code: .notDefined, message: "changed my mind"), to: first.source)
            return "aborted_by_client"
        }
    }

    /// Checks one report of the page against what the clients did.
    static func check(_ page: [String: Any], url: String, expected: [String: String], stalledIP: String, fromEvents: Bool) {
        let label = fromEvents ? "live" : "reloaded"
        // Before the token was given, the API answered 401; nothing else may go wrong (a CSP
        // violation, a script error, a failed load), and after the reload not even that.
        let problems = (page["problems"] as? [String] ?? []).filter {
            !(fromEvents && $0.contains("status of 401 (Unauthorized)") && $0.contains("/v1/"))
        }
        #expect(problems.isEmpty, "\(label): the page reported problems: \(problems)")
        #expect(page["href"] as? String == url, "\(label): the address changed to \(page["href"] ?? "")")
        #expect(!(page["href"] as? String ?? "").contains(token), "\(label): the token is in the address")
        #expect(
            page["connection"] as? String == "live" && page["tokenFormShown"] as? Bool == false, "\(label): \(page["connection"] ?? "")")
        let boards = page["boards"] as? [[String: Any]] ?? []
        let byAddress = Dictionary(boards.map { ($0["address"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        #expect(boards.count == expected.count + 1, "\(label): \(boards.count) boards listed")
        #expect(Set(byAddress.keys) == Set(expected.keys).union([stalledIP]), "\(label): \(byAddress.keys.sorted())")
        for (ip, outcome) in expected {
            guard let board = byAddress[ip] else { continue }
            #expect(board["lastOutcome"] as? String == outcome, "\(label): \(ip) shows \(board["lastOutcome"] ?? "") for \(outcome)")
            #expect(board["state"] as? String == (outcome == "delivered" ? "ok" : "failed"), "\(label): \(ip) is \(board["state"] ?? "")")
            if fromEvents {
                // Fetches the page saw happen carry their transfer's client address and port.
                let fetches = board["fetches"] as? [[String: Any]] ?? []
                let client = fetches.first?["client"] as? String ?? ""
                #expect(client.hasPrefix(ip + ":"), "\(label): \(ip)'s fetch names the client \(client)")
            }
        }
        let stalled = byAddress[stalledIP]
        #expect(stalled?["state"] as? String == "stalled", "\(label): the stalled board is \(stalled?["state"] ?? "missing")")
        let transfers = stalled?["transfers"] as? [[String: Any]] ?? []
        #expect(
            transfers.count == 1 && transfers.first?["stalled"] as? Bool == true && transfers.first?["marked"] as? Bool == true,
            "\(transfers)")
        #expect((transfers.first?["client"] as? String)?.hasPrefix(stalledIP + ":") == true, "\(transfers)")
        // Failed boards first, then the stalled one, then the rest.
        let rank = ["failed": 0, "stalled": 1, "active": 2, "ok": 3]
        let ranks = boards.map { rank[$0["state"] as? String ?? ""] ?? 9 }
        #expect(ranks == ranks.sorted(), "\(label): rows out of order: \(boards.map { "\($0["address"] ?? "") \($0["state"] ?? "")" })")
        #expect(ranks.prefix(9).allSatisfy { $0 == 0 } && ranks.dropFirst(9).first == 1, "\(label): \(ranks)")
        let summary = page["summary"] as? [String: Any] ?? [:]
        #expect(
            summary["boards"] as? String == "50" && summary["failed"] as? String == "9" && summary["stalled"] as? String == "1"
                && summary["inFlight"] as? String == "1", "\(label): \(summary)")
    }
}
