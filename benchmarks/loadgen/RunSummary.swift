/// The figures of one finished run, computed from the clients' records and the server readings.
struct RunSummary {
    var clients = 0
    var succeeded = 0
    var failed = 0
    var bytesVerified: UInt64 = 0
    var makespanSeconds = 0.0
    /// Durations of successful transfers, milliseconds: p50, p90, p99, max (nil when none succeeded).
    var durationP50: Double?
    var durationP90: Double?
    var durationP99: Double?
    var durationMax: Double?
    var counters = TrafficCounters()
    /// Failures by kind name, sorted by name.
    var failures: [(kind: String, count: Int)] = []
    var serverCPUSeconds: Double?
    var serverCPUSource: String?
    var serverPeakResidentKiB: Int?
    /// CPU seconds the load generator itself used between the first RRQ and the last client's end.
    var loadGeneratorCPUSeconds: Double?

    /// Megabytes (1e6) of verified file data per second of makespan.
    var megabytesPerSecond: Double { makespanSeconds > 0 ? Double(bytesVerified) / 1e6 / makespanSeconds : 0 }

    /// Server CPU seconds per gigabyte (1e9 bytes) verified.
    var serverCPUSecondsPerGigabyte: Double? {
        guard let cpu = serverCPUSeconds, bytesVerified > 0 else { return nil }
        return cpu / (Double(bytesVerified) / 1e9)
    }

    init(records: [ClientRecord], counters: TrafficCounters, firstRequest: UInt64, lastEnd: UInt64) {
        clients = records.count
        self.counters = counters
        var durations: [Double] = []
        var byKind: [FailureKind: Int] = [:]
        for record in records {
            bytesVerified += record.bytesVerified
            if let failure = record.failure {
                failed += 1
                byKind[failure, default: 0] += 1
            } else if record.phase == .finished {
                succeeded += 1
                durations.append(Double(record.endNanoseconds - record.startNanoseconds) / 1e6)
            }
        }
        failures = byKind.sorted { $0.key < $1.key }.map { (kind: $0.key.name, count: $0.value) }
        makespanSeconds = lastEnd > firstRequest ? Double(lastEnd - firstRequest) / 1e9 : 0
        durations.sort()
        durationP50 = Self.percentile(durations, 50)
        durationP90 = Self.percentile(durations, 90)
        durationP99 = Self.percentile(durations, 99)
        durationMax = durations.last
    }

    /// Nearest-rank percentile of sorted values; nil when empty.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
