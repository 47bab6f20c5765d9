import Dispatch
import Foundation
import Glibc
import TFTPProtocol
import VolleyReactor
import VolleySystem

// Helpers for the tests that drive the real `volley` executable the way systemd does:
// socket activation, NOTIFY_SOCKET, signals. Processes, directories and test data come
// from the shared support code (RunningProcess, TestDirectory, SeededBytes).

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// How a service process ended.
struct ServiceExit: Sendable, CustomStringConvertible {
    var status: Int32
    var killedBySignal: Bool
    var timedOut: Bool
    var description: String {
        timedOut ? "killed by the test's hard timeout" : killedBySignal ? "killed by signal \(status)" : "exit \(status)"
    }
    var isCleanExit: Bool { !timedOut && !killedBySignal && status == 0 }
}

/// A service-like subprocess (a ``RunningProcess``) with a scrubbed environment and helpers to
/// follow its log lines.
final class ServiceProcess: Sendable {
    private let process: RunningProcess

    /// Variables of the test runner's own environment that must not leak into the child
    /// (the runner itself may be a systemd service).
    static let scrubbed: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    ]

    /// Starts `executable`; after `timeout` seconds it is killed with SIGKILL.
    init(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:], timeout: Double) throws {
        var environment = ProcessInfo.processInfo.environment.filter { !Self.scrubbed.contains($0.key) }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        for (key, value) in extra { environment[key] = value }
        process = try RunningProcess(executable, arguments: arguments, timeout: timeout, environment: environment)
    }

    var pid: Int32 { process.pid }

    /// Standard error so far.
    var stderrText: String { process.stderrSoFar }

    /// Standard output so far.
    var stdoutText: String { process.stdoutSoFar }

    /// Sends `signal` to the process by its PID (never after it was reaped).
    func send(_ signal: Int32) { process.signal(signal) }

    /// Whether the process is still running.
    var isRunning: Bool { process.isRunning }

    /// Waits until the process ends; SIGKILLs it (by PID) if it is still running after `timeout`.
    func waitForExit(timeout: Double) async throws -> ServiceExit {
        let deadline = monotonicSeconds() + timeout
        while process.isRunning && monotonicSeconds() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let forced = process.isRunning
        if forced { send(SIGKILL) }
        let result = try await process.wait()
        return ServiceExit(status: result.status, killedBySignal: result.killedBySignal, timedOut: result.timedOut || forced)
    }

    /// Kills the process if it still runs (for `defer`); never waits long.
    func killIfRunning() {
        if process.isRunning { send(SIGKILL) }
    }

    /// Polls stderr until a line containing `fragment` appears (returns that line) or `timeout` passes.
    func waitForLine(containing fragment: String, after skip: Int = 0, timeout: Double) async throws -> String? {
        let deadline = monotonicSeconds() + timeout
        while true {
            let lines = stderrText.split(separator: "\n").map(String.init)
            if let line = lines.dropFirst(skip).first(where: { $0.contains(fragment) }) { return line }
            if monotonicSeconds() > deadline || !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Lines of stderr containing `fragment`.
    func lines(containing fragment: String) -> [String] {
        stderrText.split(separator: "\n").map(String.init).filter { $0.contains(fragment) }
    }

    /// The port from the "serving ROOT on ADDR port N" line.
    func waitForServingPort(timeout: Double = 60) async throws -> Int {
        guard let line = try await waitForLine(containing: " port ", timeout: timeout),
            line.contains("serving "), let port = Int(line.split(separator: " ").last ?? "")
        else { throw TestFailure("volley did not log its port; stderr:\n\(stderrText)") }
        return port
    }
}

/// An AF_UNIX datagram socket standing in for systemd's notification socket.
final class NotifySocketListener: @unchecked Sendable {
    /// The path to put in `NOTIFY_SOCKET`.
    let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var received: [(time: Double, text: String)] = []
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    /// A notification as received (several `KEY=value` lines) with its arrival time.
    struct Message: Sendable {
        var time: Double
        var text: String
        var lines: [String] { text.split(separator: "\n").map(String.init) }
        func has(_ assignment: String) -> Bool { lines.contains(assignment) }
        func value(of key: String) -> String? {
            lines.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
    }

    init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket(AF_UNIX): errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw TestFailure("notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            Glibc.close(fd)
            throw TestFailure("bind(\(path)): errno \(errno)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        descriptor = fd
        Thread { [self] in receiveLoop() }.start()
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopping }) {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                lock.withLock { received.append((monotonicSeconds(), text)) }
            }
        }
        stopped.signal()
    }

    /// Stops the receiving thread and removes the socket.
    func close() {
        lock.withLock { stopping = true }
        _ = stopped.wait(timeout: .now() + 2)
        Glibc.close(descriptor)
        unlink(path)
    }

    /// Every notification so far.
    var messages: [Message] { lock.withLock { received.map { Message(time: $0.time, text: $0.text) } } }

    /// Waits for the first message after index `from` satisfying `predicate`; returns its index and the message.
    func waitFor(from: Int = 0, timeout: Double, _ predicate: (Message) -> Bool) async throws -> (index: Int, message: Message)? {
        let deadline = monotonicSeconds() + timeout
        while true {
            let all = messages
            if from < all.count, let index = all.indices.dropFirst(from).first(where: { predicate(all[$0]) }) {
                return (index, all[index])
            }
            if monotonicSeconds() > deadline { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A readable dump for failure messages.
    var transcript: String {
        messages.map { String(format: "%.3f ", $0.time) + $0.text.replacingOccurrences(of: "\n", with: " | ") }
            .joined(separator: "\n")
    }
}

/// A free UDP port on 127.0.0.1: bind port 0, read it, close.
func freeLoopbackUDPPort() throws -> Int {
    Int(try RawTFTPClient().localAddress.port)
}

/// Waits until something is bound to UDP 127.0.0.1:`port` (our own bind fails with EADDRINUSE).
func waitUntilBound(port: Int, timeout: Double) async throws -> Bool {
    let deadline = monotonicSeconds() + timeout
    while monotonicSeconds() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        let bound = loopback(port: port).withSockaddr { bind(fd, $0, $1) }
        let error = errno
        Glibc.close(fd)
        if bound != 0 && error == EADDRINUSE { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

/// The address of UDP port `port` on 127.0.0.1.
func loopback(port: Int) -> SocketAddress { SocketAddress(ip: "127.0.0.1", port: UInt16(port))! }

extension RawTFTPClient {
    /// Fetches `name` in octet mode without options (512-byte blocks), sleeping `ackDelay`
    /// seconds before each ACK; `onBlock(n)` runs after block n arrived, before its ACK.
    func slowFetch(
        _ name: String, serverPort: Int, ackDelay: Double, timeout: Double = 5,
        onBlock: (Int) -> Void = { _ in }
    ) throws -> [UInt8] {
        sendReadRequest(name, to: loopback(port: serverPort))
        var bytes: [UInt8] = []
        var expected: UInt16 = 1
        var transferAddress: SocketAddress?
        while true {
            guard let datagram = receive(timeout: timeout) else {
                throw TestFailure("timed out waiting for block \(expected) of \(name) (\(bytes.count) bytes so far)")
            }
            if let transferAddress, datagram.source != transferAddress { continue }
            switch datagram.packet {
            case .data(let block, let payload)?:
                transferAddress = datagram.source
                guard block == expected else { continue }  // a retransmission of the previous block
                bytes += payload
                onBlock(Int(block))
                if ackDelay > 0 { usleep(useconds_t(ackDelay * 1e6)) }
                send(.acknowledgement(block: block), to: datagram.source)
                if payload.count < 512 { return bytes }
                expected &+= 1
            case .error(let code, let message)?:
                throw TestFailure("ERROR \(code) \(message) after \(bytes.count) bytes")
            default:
                throw TestFailure("unexpected packet \(datagram.bytes.prefix(8))")
            }
        }
    }
}

/// Runs curl to fetch tftp://127.0.0.1:`port`/`name` into `output`; returns nil on success, else a reason.
func curlFetch(host: String = "127.0.0.1", port: Int, name: String, output: String, blockSize: Int? = nil) async throws -> String? {
    var arguments = ["-s", "-S", "--max-time", "20", "-o", output]
    if let blockSize { arguments += ["--tftp-blksize", String(blockSize)] }
    arguments.append("tftp://\(host):\(port)/\(name)")
    let curl = try ServiceProcess(try VolleyBinaries.program("curl"), arguments, timeout: 30)
    let exit = try await curl.waitForExit(timeout: 30)
    return exit.isCleanExit ? nil : "curl \(exit): \(curl.stderrText)"
}
