import Logging

/// Writes the server's log lines from its events: one line per finished transfer (info),
/// one per refused request (info; dropped requests at debug), and the lifecycle lines.
///
/// Client, file, bytes and outcome go into swift-log metadata as well as into the message,
/// so a JSON log handler or a log shipper gets them as fields.
public struct TransferLogObserver: TFTPServerObserver {
    private let logger: Logger

    /// Logs to `logger`.
    public init(logger: Logger) {
        self.logger = logger
    }

    public func serverEvent(_ event: TFTPServerEvent) {
        switch event {
        case .transferStarted(let transfer):
            logger.debug(
                "\(transfer.client) \(transfer.fileName.debugDescription) \(transfer.mode): started, \(Self.options(transfer))",
                metadata: Self.metadata(transfer))
        case .transferFinished(let report):
            var metadata = Self.metadata(report.transfer)
            metadata["bytes"] = "\(report.bytesSent)"
            metadata["outcome"] = "\(report.outcome.label)"
            metadata["duration_s"] = "\(Self.format(report.durationSeconds))"
            metadata["retransmissions"] = "\(report.retransmissions)"
            logger.info("\(Self.line(report))", metadata: metadata)
        case .requestRefused(let refusal):
            var metadata: Logger.Metadata = ["client": "\(refusal.client)", "reason": "\(refusal.reason.rawValue)"]
            if let name = refusal.fileName { metadata["file"] = "\(name)" }
            let what = refusal.fileName.map { "\($0.debugDescription) to \(refusal.client)" } ?? "packet from \(refusal.client)"
            switch refusal.reason {
            case .fileNotFound, .accessViolation, .notARegularFile, .invalidName, .notWorldReadable, .unsupportedMode, .writeRequest:
                logger.info("refused \(what): \(refusal.detail)", metadata: metadata)
            case .atCapacity, .shuttingDown, .malformed, .unexpectedPacket, .rateLimited, .clientAtCapacity, .serverError:
                // Floods of these are summarised by the server at most once a second.
                logger.debug("dropped or refused \(what): \(refusal.detail)", metadata: metadata)
            }
        case .transferProgress:
            break
        case .listening(let address, let port):
            logger.debug("listening on \(address) port \(port)")
        case .stoppedAccepting(let active):
            logger.info("no longer accepting requests; \(active) transfer(s) in flight")
        case .reloaded:
            break
        }
    }

    /// `127.0.0.1:39120 "boot/vmlinuz" octet: 8388608 bytes in 0.121 s (69.3 MB/s), blksize=1468 windowsize=16 tsize=8388608 — delivered`.
    static func line(_ report: TransferReport) -> String {
        let transfer = report.transfer
        let seconds = max(report.durationSeconds, 0.001)
        let rate = Double(report.bytesSent) / seconds / 1_000_000
        return "\(transfer.client) \(transfer.fileName.debugDescription) \(transfer.mode): "
            + "\(report.bytesSent) bytes in \(format(seconds)) s (\(format(rate)) MB/s), \(options(transfer))"
            + (report.retransmissions > 0 ? ", \(report.retransmissions) retransmitted" : "")
            + " — \(report.outcome)"
    }

    private static func options(_ transfer: TransferDescription) -> String {
        if transfer.transferProtocol == .http { return "http" + (transfer.rule.map { " rule=\($0)" } ?? "") }
        var options = "blksize=\(transfer.blockSize) windowsize=\(transfer.windowSize)"
        if let tsize = transfer.transferSize { options += " tsize=\(tsize)" }
        if let timeout = transfer.timeoutSeconds { options += " timeout=\(timeout)" }
        if !transfer.acknowledgedOptions { options += " (no options)" }
        if let rule = transfer.rule { options += " rule=\(rule)" }
        return options
    }

    private static func metadata(_ transfer: TransferDescription) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["client": "\(transfer.client)", "file": "\(transfer.fileName)", "mode": "\(transfer.mode)"]
        if let rule = transfer.rule { metadata["rule"] = "\(rule)" }
        return metadata
    }

    private static func format(_ value: Double) -> String {
        String((value * 1000).rounded() / 1000)
    }
}
