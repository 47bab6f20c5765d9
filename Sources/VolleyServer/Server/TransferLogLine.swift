import TFTPProtocol

/// The one log line a finished transfer leaves: client, file, bytes, duration, options, outcome.
struct TransferLogLine: CustomStringConvertible {
    let description: String

    init(_ transfer: ReadTransfer, outcome: String, now: UInt64) {
        let milliseconds = max(1, now &- transfer.startedAt)
        let seconds = Double(milliseconds) / 1000
        let rate = Double(transfer.bytesSent) / seconds / 1_000_000
        var options = "blksize=\(transfer.negotiated.blockSize) windowsize=\(transfer.negotiated.windowSize)"
        if let tsize = transfer.negotiated.transferSize { options += " tsize=\(tsize)" }
        if let timeout = transfer.negotiated.timeoutSeconds { options += " timeout=\(timeout)" }
        if transfer.optionAcknowledgement == nil { options += " (no options)" }
        let retransmits = transfer.machine.retransmissionCount
        description = "\(transfer.peer) \(transfer.fileName.debugDescription) \(transfer.mode.rawValue): "
            + "\(transfer.bytesSent) bytes in \(Self.format(seconds)) s (\(Self.format(rate)) MB/s), \(options)"
            + (retransmits > 0 ? ", \(retransmits) retransmitted" : "")
            + " — \(outcome)"
    }

    private static func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }
}
