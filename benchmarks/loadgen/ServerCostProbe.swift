import Glibc

/// Reads what the server under test has spent: CPU time from a cgroup's `cpu.stat` (preferred) or
/// from `/proc/PID/stat` (all threads, plus reaped children), and peak RSS from `/proc/PID/status`.
struct ServerCostProbe {
    let pid: Int32?
    let cgroup: String?

    /// Where the CPU figure comes from: "cgroup", "proc", or nil when neither was given.
    var cpuSource: String? {
        if cgroup != nil { return "cgroup" }
        return pid != nil ? "proc" : nil
    }

    /// CPU seconds used so far, or nil when unavailable.
    func cpuSeconds() -> Double? {
        if let cgroup { return Self.cgroupCPUSeconds(directory: cgroup) }
        if let pid { return Self.processCPUSeconds(pid: pid) }
        return nil
    }

    /// The server's peak resident set (VmHWM) in KiB, or nil without a pid.
    func peakResidentKiB() -> Int? {
        guard let pid, let status = Self.readSmallFile("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// utime + stime + cutime + cstime of `pid`, in seconds.
    static func processCPUSeconds(pid: Int32) -> Double? {
        guard let stat = readSmallFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": field 3 is the state; utime, stime, cutime, cstime are fields 14–17.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14 else { return nil }
        var ticks: Int64 = 0
        for index in 11...14 {
            guard let value = Int64(fields[index]) else { return nil }
            ticks += value
        }
        let perSecond = sysconf(Int32(_SC_CLK_TCK))
        return perSecond > 0 ? Double(ticks) / Double(perSecond) : nil
    }

    /// `usage_usec` of a cgroup v2 directory (or `cpuacct.usage` of a v1 cpuacct one), in seconds.
    static func cgroupCPUSeconds(directory: String) -> Double? {
        if let usage = readSmallFile(directory + "/cpuacct.usage") {
            return Double(usage.split(separator: "\n").first ?? "").map { $0 / 1e9 }
        }
        guard let stat = readSmallFile(directory + "/cpu.stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("usage_usec ") {
            return Double(line.dropFirst(11)).map { $0 / 1e6 }
        }
        return nil
    }

    /// CPU seconds (user + system) this process has used so far: the load generator's own cost.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The whole content of a small text file (procfs, cgroupfs), or nil.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
