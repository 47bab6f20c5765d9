import Foundation
import Glibc

/// How a subprocess ended.
struct ProcessResult: Sendable, CustomStringConvertible {
    /// The exit status, or the signal number when it was killed by a signal.
    var status: Int32
    /// True when the process ended through a signal.
    var killedBySignal: Bool
    /// True when our hard timeout killed it.
    var timedOut: Bool
    var stdout: String
    var stderr: String

    var description: String {
        "status \(status)\(killedBySignal ? " (signal)" : "")\(timedOut ? " TIMED OUT" : "")\nstdout: \(stdout)\nstderr: \(stderr)"
    }
}

/// Runs each job it is given on a fresh thread, so blocking calls never occupy Swift's small
/// cooperative pool (2 threads on a 2-core machine) that the other parallel tests need.
final class BlockingWorkExecutor: TaskExecutor {
    static let shared = BlockingWorkExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread { job.runSynchronously(on: executor) }
        thread.stackSize = 4 << 20
        thread.start()
    }
}

/// Runs blocking work (raw sockets, waiting for processes) off the cooperative pool, in the
/// same task: expectations inside still count for the running test.
func offload<T>(_ body: () throws -> T) async throws -> T {
    try await withTaskExecutorPreference(BlockingWorkExecutor.shared) {
        try await runNonisolated(body)
    }
}

nonisolated private func runNonisolated<T>(_ body: () throws -> T) async throws -> T {
    try body()
}

/// Finds an executable on the usual paths.
func executablePath(_ name: String) -> String {
    for directory in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"] {
        let candidate = directory + "/" + name
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return name
}

/// A started subprocess with captured output and a hard timeout that kills it by its PID.
final class RunningProcess: @unchecked Sendable {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var killedByTimeout = false
    private let readers = DispatchGroup()
    private var timer: DispatchWorkItem?

    /// Starts `executable` (a name on PATH or a path); it is killed with SIGKILL after `timeout` seconds.
    init(_ executable: String, arguments: [String], timeout: Double, standardInput: Any? = nil,
         standardOutput: Any? = nil, environment: [String: String]? = nil, currentDirectory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : executablePath(executable))
        process.arguments = arguments
        process.standardInput = standardInput ?? FileHandle.nullDevice
        process.standardOutput = standardOutput ?? stdoutPipe
        process.standardError = stderrPipe
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        try process.run()
        let pid = process.processIdentifier
        let kill = DispatchWorkItem { [weak self] in
            guard let self else { return }
            self.lock.withLock { self.killedByTimeout = true }
            Glibc.kill(pid, SIGKILL)
        }
        timer = kill
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: kill)
        if standardOutput == nil { drain(stdoutPipe) { self.stdoutData.append($0) } }
        drain(stderrPipe) { self.stderrData.append($0) }
    }

    private func drain(_ pipe: Pipe, into append: @escaping @Sendable (Data) -> Void) {
        readers.enter()
        let handle = pipe.fileHandleForReading
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { append(chunk) }
            }
            readers.leave()
        }
        thread.start()
    }

    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// What has arrived on stderr so far.
    var stderrSoFar: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// Sends a signal to the process (by its PID).
    func signal(_ number: Int32) { Glibc.kill(pid, number) }

    /// Blocks until the process ends and its output is read.
    func waitBlocking() -> ProcessResult {
        process.waitUntilExit()
        timer?.cancel()
        readers.wait()
        return lock.withLock {
            ProcessResult(
                status: process.terminationStatus,
                killedBySignal: process.terminationReason == .uncaughtSignal,
                timedOut: killedByTimeout,
                stdout: String(decoding: stdoutData, as: UTF8.self),
                stderr: String(decoding: stderrData, as: UTF8.self))
        }
    }

    /// Waits (off the cooperative pool) until the process ends.
    func wait() async throws -> ProcessResult {
        try await offload { self.waitBlocking() }
    }

    /// Polls stderr until `predicate` holds or `timeout` seconds pass; returns the stderr text.
    func waitForStderr(timeout: Double, _ predicate: @escaping @Sendable (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = stderrSoFar
            if predicate(text) { return text }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return stderrSoFar
    }
}

/// Runs a program to completion with a hard timeout (SIGKILL by PID) and returns status and output.
func runProcess(_ executable: String, arguments: [String], timeout: Double = 60,
                environment: [String: String]? = nil) async throws -> ProcessResult {
    let running = try RunningProcess(executable, arguments: arguments, timeout: timeout, environment: environment)
    return try await running.wait()
}
