internal import CEpoll
import Glibc

/// How many CPUs this process can really use: the reactors `auto` starts.
public enum ProcessorCount {
    /// The CPUs of the affinity mask (taskset, cpusets, systemd `CPUAffinity=`), lowered to
    /// a cgroup v2 CPU quota rounded up (`CPUQuota=150%` gives 2), at least 1.
    public static func available() -> Int {
        var count = Int(volley_affinity_cpu_count())
        if count <= 0 { count = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
        if let quota = cgroupQuota() { count = min(count, quota) }
        return max(1, count)
    }

    /// `cpu.max` of the process's cgroup (`"200000 100000"`: two CPUs), rounded up; nil
    /// when unlimited or unknown.
    static func cgroupQuota() -> Int? {
        guard let membership = try? FileSystem.readSmallFile("/proc/self/cgroup"),
            let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return nil }
        let path = String(line.dropFirst(3))
        guard let text = try? FileSystem.readSmallFile("/sys/fs/cgroup\(path == "/" ? "" : path)/cpu.max") else { return nil }
        return parseQuota(text)
    }

    /// Parses `cpu.max`: `max 100000` is nil, `150000 100000` is 2.
    static func parseQuota(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]), quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }
}
