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

/// A file descriptor for captured output: an unlinked, close-on-exec temporary file.
///
/// Output goes to files, not pipes: Foundation's `Process` does not close unrelated descriptors in
/// the child, so a pipe's write end can leak into another test's long-running child and its reader
/// would never see EOF. A file needs no EOF.
private func makeCaptureFile() throws -> Int32 {
    let path = NSTemporaryDirectory() + "/volley-e2e-output-\(UUID().uuidString)"
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw TestFailure("cannot create \(path): errno \(errno)") }
    unlink(path)
    return fd
}

/// Everything written to a capture file so far.
private func readCaptureFile(_ fd: Int32) -> String {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(result.count)) }
        if count <= 0 { break }
        result += buffer[..<count]
    }
    return String(decoding: result, as: UTF8.self)
}

/// A one-way channel (a socket pair, created close-on-exec atomically, so no other child
/// inherits its ends); `Process` still hands the ends to the intended children as stdin/stdout.
func makeCloseOnExecPipe() throws -> (read: FileHandle, write: FileHandle) {
    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
        throw TestFailure("socketpair: errno \(errno)")
    }
    return (FileHandle(fileDescriptor: fds[0], closeOnDealloc: true), FileHandle(fileDescriptor: fds[1], closeOnDealloc: true))
}

/// A started subprocess with captured output and a hard timeout that kills it by its PID.
///
/// Spawned with `posix_spawn` and reaped with `waitpid` directly, not through Foundation's `Process`:
/// with many tests spawning children in parallel, `Process` let descriptors leak into unrelated
/// children and its exit detection then waited for those children (60 s stalls in a parallel run).
/// Here every descriptor above 2 is closed in the child.
final class RunningProcess: @unchecked Sendable {
    let pid: pid_t
    private let stdoutFile: Int32
    private let stderrFile: Int32
    private let lock = NSLock()
    private var killedByTimeout = false
    private var exitStatus: Int32?
    private var timer: DispatchWorkItem?

    /// Starts `executable` (a name on PATH or a path); it is killed with SIGKILL after `timeout` seconds.
    init(
        _ executable: String, arguments: [String], timeout: Double, standardInput: FileHandle? = nil,
        standardOutput: FileHandle? = nil, environment: [String: String]? = nil
    ) throws {
        stdoutFile = try makeCaptureFile()
        stderrFile = try makeCaptureFile()
        let path = executable.contains("/") ? executable : executablePath(executable)
        let stdinFD = standardInput?.fileDescriptor ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if standardInput == nil { close(stdinFD) } }
        let stdoutFD = standardOutput?.fileDescriptor ?? stdoutFile

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinFD, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFile, 2)
        // Close everything else the test process has open (other tests' pipes and sockets included).
        for fd in Self.openDescriptors() where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, nil, argv, envp)
        guard result == 0 else {
            close(stdoutFile)
            close(stderrFile)
            throw TestFailure("posix_spawn \(path): errno \(result)")
        }
        pid = child
        let kill = DispatchWorkItem { [weak self] in
            guard let self else { return }
            let alive = self.lock.withLock { () -> Bool in
                guard self.exitStatus == nil else { return false }
                self.killedByTimeout = true
                return true
            }
            if alive { Glibc.kill(child, SIGKILL) }
        }
        timer = kill
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: kill)
    }

    /// A process nobody can reach any more is ended and reaped: a test that throws while it sets
    /// up a fixture (before its `defer` that stops the server) leaves no child running.
    deinit {
        timer?.cancel()
        if exitStatus == nil {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        }
        close(stdoutFile)
        close(stderrFile)
    }

    /// The descriptors open in this process now.
    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// What has arrived on stderr so far.
    var stderrSoFar: String { readCaptureFile(stderrFile) }

    /// What has arrived on stdout so far (when it was not redirected elsewhere).
    var stdoutSoFar: String { readCaptureFile(stdoutFile) }

    /// Whether the process is still running (reaping it if it has just ended).
    var isRunning: Bool { !reapIfEnded() }

    /// Sends a signal to the process (by its PID) unless it was already reaped.
    func signal(_ number: Int32) {
        lock.withLock { if exitStatus == nil { _ = Glibc.kill(pid, number) } }
    }

    /// Reaps the child if it has ended (never blocks); true once it has been reaped.
    ///
    /// Every reap goes through here under the lock, so two waiters can never race for the status.
    @discardableResult
    func reapIfEnded() -> Bool {
        lock.withLock {
            if exitStatus != nil { return true }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                exitStatus = status
            } else if reaped == -1 && errno == ECHILD {
                exitStatus = 0xff << 8  // reaped elsewhere: report exit 255 rather than a false success
            }
            return exitStatus != nil
        }
    }

    /// Blocks until the process ends (polling, so the hard timeout can always intervene).
    func waitBlocking() -> ProcessResult {
        while !reapIfEnded() { usleep(5_000) }
        timer?.cancel()
        let status = lock.withLock { exitStatus ?? 0 }
        // WIFSIGNALED / WEXITSTATUS by hand (they are macros).
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return ProcessResult(
            status: signalled ? status & 0x7f : (status >> 8) & 0xff,
            killedBySignal: signalled,
            timedOut: lock.withLock { killedByTimeout },
            stdout: readCaptureFile(stdoutFile),
            stderr: readCaptureFile(stderrFile))
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
            if reapIfEnded() { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return stderrSoFar
    }
}

/// Runs a program to completion with a hard timeout (SIGKILL by PID) and returns status and output.
func runProcess(
    _ executable: String, arguments: [String], timeout: Double = 60,
    environment: [String: String]? = nil
) async throws -> ProcessResult {
    let running = try RunningProcess(executable, arguments: arguments, timeout: timeout, environment: environment)
    return try await running.wait()
}
