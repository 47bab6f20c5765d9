/// Turns a run's summary and parameters into the human report or one JSON object.
struct Report {
    let configuration: LoadConfiguration
    let fileSize: Int
    let summary: RunSummary

    /// One JSON object (one line).
    var json: String {
        let s = summary
        var errors: [(String, JSONValue)] = []
        for failure in s.failures { errors.append((failure.kind, .integer(Int64(failure.count)))) }
        let object: JSONValue = .object([
            ("clients", .integer(s.clients)),
            ("ok", .integer(s.succeeded)),
            ("failed", .integer(s.failed)),
            ("bytes_verified", .integer(Int64(s.bytesVerified))),
            ("makespan_s", .number(s.makespanSeconds)),
            ("aggregate_mb_s", .number(s.megabytesPerSecond)),
            (
                "duration_ms",
                .object([
                    ("p50", .number(s.durationP50)), ("p90", .number(s.durationP90)),
                    ("p99", .number(s.durationP99)), ("max", .number(s.durationMax)),
                ])
            ),
            ("retransmits", .integer(s.counters.clientRetransmissions)),
            ("rrq_retransmits", .integer(s.counters.requestRetransmissions)),
            ("server_retransmits_seen", .integer(s.counters.serverRetransmissionsSeen)),
            ("duplicate_oacks", .integer(s.counters.duplicateOptionAcknowledgements)),
            ("gaps", .integer(s.counters.gaps)),
            ("foreign_datagrams", .integer(s.counters.foreignDatagrams)),
            ("malformed_datagrams", .integer(s.counters.malformedDatagrams)),
            ("missing_oacks", .integer(s.counters.missingOptionAcknowledgements)),
            ("send_errors", .integer(s.counters.sendErrors)),
            ("errors", .object(errors)),
            ("server_cpu_s", .number(s.serverCPUSeconds)),
            ("server_cpu_source", s.serverCPUSource.map { .string($0) } ?? .null),
            ("server_cpu_s_per_gb", .number(s.serverCPUSecondsPerGigabyte)),
            ("server_peak_rss_kib", .integer(s.serverPeakResidentKiB)),
            ("loadgen_cpu_s", .number(s.loadGeneratorCPUSeconds)),
            ("parameters", parameters),
        ])
        return object.text
    }

    private var parameters: JSONValue {
        let c = configuration
        return .object([
            ("file", .string(c.fileName)),
            ("local", .string(c.localPath)),
            ("file_size", .integer(fileSize)),
            ("server", .string(c.server.description)),
            ("clients", .integer(c.clients)),
            ("blksize", .integer(c.blockSize)),
            ("windowsize", .integer(c.windowSize)),
            ("tsize", .bool(c.requestTransferSize)),
            ("options", .bool(c.sendOptions)),
            ("mode", .string("octet")),
            ("timeout_ms", .integer(c.timeoutMilliseconds)),
            ("retries", .integer(c.retries)),
            ("ramp_ms", .integer(c.rampMilliseconds)),
            ("deadline_s", .integer(c.deadlineSeconds)),
            ("rcvbuf", .integer(c.receiveBufferBytes)),
            ("server_pid", .integer(c.serverPID.map { Int($0) })),
            ("server_cgroup", c.serverCgroup.map { .string($0) } ?? .null),
        ])
    }

    /// The human-readable report.
    var text: String {
        let s = summary
        let c = configuration
        var options = c.sendOptions ? "blksize \(c.blockSize)" : "no options"
        if c.sendOptions && c.windowSize > 1 { options += ", windowsize \(c.windowSize)" }
        if c.sendOptions && c.requestTransferSize { options += ", tsize" }
        var lines = [
            "volley-loadgen: \(c.clients) clients fetching \(c.fileName) (\(fileSize) bytes) from \(c.server), octet, \(options)",
            "  timeout \(c.timeoutMilliseconds) ms × \(c.retries) retries, ramp \(c.rampMilliseconds) ms, deadline \(c.deadlineSeconds) s"
                + (c.receiveBufferBytes.map { ", SO_RCVBUF \($0)" } ?? ""),
            "clients:         \(s.succeeded) ok, \(s.failed) failed",
            "bytes verified:  \(s.bytesVerified)",
            "makespan:        \(Self.format(s.makespanSeconds, 3)) s",
            "aggregate:       \(Self.format(s.megabytesPerSecond, 1)) MB/s",
            "duration (ms):   p50 \(Self.format(s.durationP50, 1))  p90 \(Self.format(s.durationP90, 1))"
                + "  p99 \(Self.format(s.durationP99, 1))  max \(Self.format(s.durationMax, 1))",
            "retransmits:     client \(s.counters.clientRetransmissions) (RRQ \(s.counters.requestRetransmissions)), server seen \(s.counters.serverRetransmissionsSeen)"
                + ", duplicate OACKs \(s.counters.duplicateOptionAcknowledgements), gaps \(s.counters.gaps)",
        ]
        let c2 = s.counters
        if c2.foreignDatagrams + c2.malformedDatagrams + c2.missingOptionAcknowledgements + c2.sendErrors > 0 {
            lines.append(
                "oddities:        foreign \(c2.foreignDatagrams), malformed \(c2.malformedDatagrams)"
                    + ", no OACK \(c2.missingOptionAcknowledgements), send errors \(c2.sendErrors)")
        }
        lines.append(
            "errors:          " + (s.failures.isEmpty ? "none" : s.failures.map { "\($0.kind) \($0.count)" }.joined(separator: ", ")))
        if let cpu = s.serverCPUSeconds {
            lines.append(
                "server CPU:      \(Self.format(cpu, 3)) s (\(s.serverCPUSource ?? "?")), "
                    + "\(Self.format(s.serverCPUSecondsPerGigabyte, 2)) CPU-s/GB")
        }
        if let rss = s.serverPeakResidentKiB { lines.append("server peak RSS: \(rss) KiB") }
        if let own = s.loadGeneratorCPUSeconds {
            lines.append(
                "loadgen CPU:     \(Self.format(own, 3)) s (\(Self.format(s.makespanSeconds > 0 ? own / s.makespanSeconds * 100 : nil, 0))% of one core)"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// A number with `digits` decimals, or "-" when absent.
    static func format(_ value: Double?, _ digits: Int) -> String {
        guard let value, value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if text.contains("e") { return text }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        text = String(parts[0])
        if digits > 0 { text += "." + fraction.padding(digits) }
        return text
    }
}

private extension String {
    func padding(_ length: Int) -> String {
        count >= length ? String(prefix(length)) : self + String(repeating: "0", count: length - count)
    }
}
