import ArgumentParser
import Glibc
import VolleyReactor
import VolleySystem

/// `volley-loadgen`: plays many TFTP boot clients against one server and verifies every byte.
@main
struct VolleyLoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley-loadgen",
        abstract: "Play N TFTP boot clients at once against one server, verify every byte, report speed and server cost.",
        discussion: """
            Every client has its own UDP socket; all run on one epoll reactor thread. Each DATA payload \
            is compared with --local at its offset. Exit status 0 iff every client got the whole file.
            """
    )

    @Option(help: "File name to request.") var file: String
    @Option(help: "Local copy of the file; every received byte is compared with it.") var local: String
    @Option(help: "Server address (IPv4 or IPv6).") var server = "127.0.0.1"
    @Option(help: "Server port.") var port: UInt16 = 69
    @Option(help: "Concurrent clients.") var clients = 1
    @Option(help: "Requested block size (8–65464).") var blksize = 512
    @Option(help: "Requested window size (RFC 7440); sent only when > 1.") var windowsize = 1
    @Flag(help: "Ask for tsize (sent as 0) and check the answer equals the file size.") var tsize = false
    @Flag(help: "Send a plain RFC 1350 RRQ without options, like a legacy PXE ROM.") var noOptions = false
    @Option(help: "Transfer mode (octet only).") var mode = "octet"
    @Option(help: "Client retransmission timeout in milliseconds.") var timeoutMs = 1000
    @Option(help: "Re-sends before an unanswered client fails with kind \"timeout\".") var retries = 5
    @Option(help: "Spread the first RRQs over this many milliseconds (0: all at once).") var rampMs = 0
    @Option(help: "Hard stop: clients still running fail with kind \"deadline\".") var deadlineS = 300
    @Option(
        help: "SO_RCVBUF per client socket in bytes (default: 256 KiB or more when blksize×windowsize > 32 KiB, else the kernel default).")
    var rcvbuf: Int?
    @Option(help: "Server process id: CPU time (utime+stime+cutime+cstime) and peak RSS (VmHWM).") var serverPid: Int32?
    @Option(help: "Server cgroup v2 directory: CPU time from cpu.stat usage_usec (preferred over --server-pid).")
    var serverCgroup: String?
    @Option(help: "Wait this long after the last client before the final CPU reading (a forking server reaps its children).")
    var settleMs = 0
    @Flag(help: "Print one JSON object instead of the human report.") var json = false

    func validate() throws {
        guard mode.lowercased() == "octet" else { throw ValidationError("--mode: only octet is supported") }
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard (8...65464).contains(blksize) else { throw ValidationError("--blksize must be 8–65464") }
        guard (1...65535).contains(windowsize) else { throw ValidationError("--windowsize must be 1–65535") }
        guard !noOptions || (blksize == 512 && windowsize == 1 && !tsize) else {
            throw ValidationError("--no-options cannot be combined with --blksize, --windowsize or --tsize")
        }
        guard timeoutMs >= 1, retries >= 0, rampMs >= 0, deadlineS >= 1, settleMs >= 0 else {
            throw ValidationError("--timeout-ms, --deadline-s must be positive; --retries, --ramp-ms, --settle-ms not negative")
        }
        guard SocketAddress(ip: server, port: port) != nil else { throw ValidationError("--server: not a numeric IP address: \(server)") }
    }

    func run() throws {
        let configuration = LoadConfiguration(
            fileName: file, localPath: local, server: SocketAddress(ip: server, port: port)!,
            clients: clients, blockSize: blksize, windowSize: windowsize, requestTransferSize: tsize,
            sendOptions: !noOptions, timeoutMilliseconds: timeoutMs, retries: retries, rampMilliseconds: rampMs,
            deadlineSeconds: deadlineS,
            receiveBufferBytes: rcvbuf
                ?? LoadConfiguration.defaultReceiveBuffer(blockSize: blksize, windowSize: noOptions ? 1 : windowsize),
            serverPID: serverPid, serverCgroup: serverCgroup, settleMilliseconds: settleMs)

        let limit = ResourceLimits.raiseOpenFilesLimit()
        guard limit >= UInt64(clients) + 32 else {
            throw LoadGenFailure("\(clients) clients need \(clients + 32) descriptors; RLIMIT_NOFILE is \(limit) (raise the hard limit)")
        }
        let probe = ServerCostProbe(pid: serverPid, cgroup: serverCgroup)
        if probe.cpuSource != nil, probe.cpuSeconds() == nil {
            throw LoadGenFailure(
                "cannot read the server's CPU time from \(serverCgroup.map { $0 + "/cpu.stat" } ?? "/proc/\(serverPid!)/stat")")
        }

        let generator = try LoadGenerator(configuration: configuration)
        var cpuBefore: Double?
        var ownBefore = 0.0
        generator.run {
            cpuBefore = probe.cpuSeconds()
            ownBefore = ServerCostProbe.ownCPUSeconds()
        }
        let ownCPU = ServerCostProbe.ownCPUSeconds() - ownBefore
        if settleMs > 0 { usleep(useconds_t(settleMs) * 1000) }
        let cpuAfter = probe.cpuSeconds()

        var summary = RunSummary(
            records: generator.clients, counters: generator.counters,
            firstRequest: generator.firstRequestNanoseconds, lastEnd: generator.lastEndNanoseconds)
        if let before = cpuBefore, let after = cpuAfter {
            summary.serverCPUSeconds = max(0, after - before)
            summary.serverCPUSource = probe.cpuSource
        }
        summary.serverPeakResidentKiB = probe.peakResidentKiB()
        summary.loadGeneratorCPUSeconds = ownCPU

        let report = Report(configuration: configuration, fileSize: generator.reference.size, summary: summary)
        print(json ? report.json : report.text)
        if summary.failed > 0 || summary.succeeded != clients { throw ExitCode(1) }
    }
}
