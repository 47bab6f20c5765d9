import Foundation
import Glibc
import Synchronization
import Testing
import VolleyServer
import VolleySystem

/// Two reactor threads, whatever the test machine's core count: every real client in both
/// socket modes, the spread over the reactors, limits that hold across them, sockets
/// passed by systemd, and a drain in single-port mode.
@Suite("End to end: two reactors")
struct MultiReactorTests {
    static let modes: [ServerMode] = [.perTransferSockets, .singlePort]
    static let cases: [(ServerMode, RealClient)] = modes.flatMap { mode in RealClient.allCases.map { (mode, $0) } }

    static func twoReactors(_ mode: ServerMode) -> (inout TFTPServerConfiguration) -> Void {
        { configuration in
            mode.apply(to: &configuration)
            configuration.reactors = 2
        }
    }

    @Test("four fetches at once by one client kind are byte-exact", arguments: cases)
    func everyClient(mode: ServerMode, client: RealClient) async throws {
        let directory = try TestDirectory("reactors")
        defer { directory.remove() }
        var contents: [[UInt8]] = []
        for i in 0..<4 {
            let content = SeededBytes.make(count: 300_001 + i * 4099, seed: 900 + UInt64(i))
            contents.append(content)
            try directory.write("root/image-\(i).bin", content)
        }
        let logs = LogCapture()
        try await withServer(root: directory.path("root"), logs: logs, configure: Self.twoReactors(mode)) { server in
            let failures = try await fetchAll(client, count: 4, port: server.port, directory: directory)
            for i in 0..<4 {
                #expect(failures[i] == .some(nil), "\(client) \(i): \(String(describing: failures[i]))")
                #expect(byteDifference(directory.contents("out-\(i)"), contents[i]) == nil, "\(client) image-\(i)")
            }
            let statistics = try await server.waitUntilIdle(timeout: 5)
            #expect(statistics.completedTransfers == 4)
            #expect(logs.all.contains { $0.contains("2 reactor threads") })
        }
    }

    @Test("volley --reactors 2: sixteen clients are spread over both reactor threads", arguments: modes)
    func spread(mode: ServerMode) async throws {
        let (directory, content) = try imageRoot("spread", copies: 16, size: 1_500_000, seed: 31)
        defer { directory.remove() }
        // Its own process: the test runner holds other tests' reactor threads.
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            [
                "serve", "--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0", "--reactors", "2",
            ] + (mode == .singlePort ? ["--single-port"] : []), timeout: 90)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()
        #expect(service.lines(containing: "2 reactor threads").count == 1, "\(service.stderrText)")
        let before = ReactorThreads.cpuTicks(pid: service.pid)
        #expect(before.count == 2, "reactor threads: \(before)")
        let failures = try await fetchAll(.curl, count: 16, port: port, directory: directory)
        #expect(failures.values.allSatisfy { $0 == nil }, "\(failures)")
        for i in 0..<16 { #expect(byteDifference(directory.contents("out-\(i)"), content) == nil, "out-\(i)") }
        // The kernel hashes each client's address and port to one reactor's socket: with
        // 16 client ports, both reactors get transfers (all on one: odds 2 in 65536).
        let after = ReactorThreads.cpuTicks(pid: service.pid)
        for (thread, ticks) in after {
            #expect(ticks > before[thread, default: 0], "thread \(thread) did no work: \(before) → \(after)")
        }
        service.send(SIGTERM)
        let exit = try await service.waitForExit(timeout: 20)
        #expect(exit.isCleanExit, "\(exit)\n\(service.stderrText)")
    }

    @Test("max_transfers holds across the reactors", arguments: modes)
    func sharedLimit(mode: ServerMode) async throws {
        let (directory, _) = try imageRoot("shared-limit", copies: 10, size: 2_000_000, seed: 32)
        defer { directory.remove() }
        try await withServer(
            root: directory.path("root"),
            configure: { configuration in
                Self.twoReactors(mode)(&configuration)
                configuration.maximumTransfers = 2
            }
        ) { server in
            let peak = Mutex(0)
            let watcher = Task {
                while !Task.isCancelled {
                    let active = server.statistics.activeTransfers
                    peak.withLock { $0 = max($0, active) }
                    try? await Task.sleep(for: .milliseconds(1))
                }
            }
            // Requests beyond the limit are dropped and the clients retry; not all need to
            // finish in time, but none may run as a third transfer.
            let failures = try await fetchAll(.curl, count: 10, port: server.port, directory: directory, timeout: 20)
            watcher.cancel()
            let statistics = try await server.waitUntilIdle(timeout: 5)
            #expect(peak.withLock { $0 } <= 2, "peak of \(peak.withLock { $0 }) transfers with max_transfers 2")
            #expect(statistics.completedTransfers >= 2, "\(failures)")
        }
    }

    @Test("another server cannot bind the port a reactor group holds, nor join it")
    func portConflict() async throws {
        let directory = try TestDirectory("reactor-conflict")
        defer { directory.remove() }
        try await withServer(root: directory.path, configure: { $0.reactors = 2 }) { server in
            for reactors in [1, 2] {
                var configuration = TFTPServerConfiguration(rootDirectory: directory.path, host: "127.0.0.1", port: server.port)
                configuration.reactors = reactors
                let second = TFTPServer(configuration: configuration, logger: LogCapture().logger())
                #expect(throws: TFTPError.self) { try second.start() }
                #expect(!second.isRunning)
            }
        }
    }

    @Test("sockets passed by systemd: the reactors share them; single-port mode runs one reactor", arguments: modes)
    func inheritedSocket(mode: ServerMode) async throws {
        let (directory, content) = try imageRoot("reactor-inherited", copies: 6, size: 400_003, seed: 33)
        defer { directory.remove() }
        let passed = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(passed) }
        #expect(SocketAddress(ip: "127.0.0.1", port: 0)!.withSockaddr { bind(passed, $0, $1) } == 0)
        let logs = LogCapture()
        try await withServer(
            root: directory.path("root"), logs: logs,
            configure: { configuration in
                Self.twoReactors(mode)(&configuration)
                configuration.inheritedSockets = [Descriptor(rawValue: passed)]
            }
        ) { server in
            let expected = mode == .singlePort ? "1 reactor thread" : "2 reactor threads"
            #expect(logs.all.contains { $0.contains(expected) }, "\(logs.all)")
            let failures = try await fetchAll(.curlBlockSize1468, count: 6, port: server.port, directory: directory)
            #expect(failures.values.allSatisfy { $0 == nil }, "\(failures)")
            for i in 0..<6 { #expect(byteDifference(directory.contents("out-\(i)"), content) == nil, "out-\(i)") }
            if mode == .singlePort {
                #expect(logs.all.contains { $0.contains("runs one reactor") }, "\(logs.all)")
            }
        }
    }

    @Test("single-port drain over two reactors: every transfer in flight finishes, then the port is free")
    func singlePortDrain() async throws {
        let (directory, content) = try imageRoot("reactor-drain", copies: 8, size: 3_000_017, seed: 34)
        defer { directory.remove() }
        try await withServer(root: directory.path("root"), configure: Self.twoReactors(.singlePort)) { server in
            let port = server.port
            async let failures = fetchAll(.curl, count: 8, port: port, directory: directory, timeout: 90)
            // Wait until transfers run (on a loaded machine not all eight curls may have
            // started), then stop taking requests while they are in flight.
            // (Waiting for all eight can fail on such a machine: the first may end before the last
            // starts.) At least one must be running; on an idle machine all eight are.
            let patience = Date().addingTimeInterval(10)
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let active = server.statistics.activeTransfers
                if active >= 8 || (active >= 1 && Date() >= patience) { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            let before = server.statistics
            try server.stopAcceptingRequests()
            let results = try await failures
            // Every transfer that had started (finished or in flight) delivered its bytes; the
            // curls that had not got no answer, as a server shutting down gives.
            let succeeded = results.filter { $0.value == nil }.map(\.key)
            #expect(before.activeTransfers >= 1, "no transfer was in flight when the drain began")
            #expect(succeeded.count >= before.activeTransfers + before.completedTransfers, "\(before) \(results)")
            for i in succeeded { #expect(byteDifference(directory.contents("out-\(i)"), content) == nil, "out-\(i)") }
            _ = try await server.waitUntilIdle(timeout: 5)
            // Every reactor closed its listener once the last transfer over them ended.
            var bound = Int32(-1)
            for _ in 0..<200 {
                let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
                bound = SocketAddress(ip: "127.0.0.1", port: UInt16(port))!.withSockaddr { bind(probe, $0, $1) }
                close(probe)
                if bound == 0 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(bound == 0, "port \(port) still held after the drain")
        }
    }
}

/// A test directory whose `root/` holds `copies` copies of one seeded file, `image-I.bin`.
private func imageRoot(_ name: String, copies: Int, size: Int, seed: UInt64) throws -> (TestDirectory, [UInt8]) {
    let directory = try TestDirectory(name)
    let content = SeededBytes.make(count: size, seed: seed)
    for i in 0..<copies { try directory.write("root/image-\(i).bin", content) }
    return (directory, content)
}

/// Fetches `image-I.bin` into `out-I` with `count` copies of `client` at once; failures by index.
private func fetchAll(
    _ client: RealClient, count: Int, port: Int, directory: TestDirectory, timeout: Double = 60
) async throws -> [Int: String?] {
    try await withThrowingTaskGroup(of: (Int, String?).self) { group in
        for i in 0..<count {
            group.addTask {
                let (_, failure) = try await client.fetch(
                    port: port, name: "image-\(i).bin", output: directory.path("out-\(i)"), timeout: timeout)
                return (i, failure)
            }
        }
        var failures: [Int: String?] = [:]
        for try await (i, failure) in group { failures[i] = failure }
        return failures
    }
}

/// The reactor threads of a process, read from `/proc/PID/task`.
enum ReactorThreads {
    /// CPU ticks (user + system) of each thread named `volley-reactor…`, by thread id.
    static func cpuTicks(pid: Int32) -> [String: Int] {
        var ticks: [String: Int] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            guard let name = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8),
                name.hasPrefix("volley-reactor"),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            ticks[task] = user + system
        }
        return ticks
    }
}
