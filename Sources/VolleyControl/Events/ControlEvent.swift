import Foundation
import VolleyServer
import VolleySystem

/// One event of `GET /v1/events`: a server event as the stream carries it, numbered.
///
/// Made on the reactor thread from a ``TFTPServerEvent`` (copies of its fields, nothing
/// more); encoded to JSON later, by the subscriber's own task.
struct ControlEvent: Sendable {
    /// What happened.
    enum Kind: String, Sendable, CaseIterable {
        case started, progress, finished, refused
    }

    /// Its number: increasing, and the SSE `id:` a client resumes from (`Last-Event-ID`).
    var id: UInt64 = 0
    let kind: Kind
    /// When, in milliseconds since the epoch: taken on the reactor thread, formatted only
    /// when encoded (``time``).
    let epochMilliseconds: Int64
    /// `"127.0.0.1:39120"`.
    let client: String
    /// The client's IP address alone.
    let clientAddress: String
    /// The client's MAC address, when the neighbour table had one.
    let mac: String?
    let file: String?
    let rule: String?
    let transfer: TransferDescription?
    let progress: TransferProgress?
    let report: TransferReport?
    let refusal: RefusedRequest?

    /// The event the stream carries for `event`; nil for the server's own lifecycle events.
    init?(_ event: TFTPServerEvent) {
        epochMilliseconds = WallClock.epochMilliseconds()
        var described: TransferDescription?
        var (progress, report, refusal): (TransferProgress?, TransferReport?, RefusedRequest?)
        switch event {
        case .transferStarted(let started): (kind, described) = (.started, started)
        case .transferProgress(let advanced): (kind, described, progress) = (.progress, advanced.transfer, advanced)
        case .transferFinished(let finished): (kind, described, report) = (.finished, finished.transfer, finished)
        case .requestRefused(let refused): (kind, refusal) = (.refused, refused)
        case .listening, .stoppedAccepting, .reloaded: return nil
        }
        (self.transfer, self.progress, self.report, self.refusal) = (described, progress, report, refusal)
        if let described {
            (client, clientAddress, mac) = (described.client, described.clientAddress, described.mac)
            (file, rule) = (described.fileName, described.rule)
        } else if let refusal {
            (client, clientAddress, mac) = (refusal.client, Self.address(of: refusal.client), refusal.mac)
            (file, rule) = (refusal.fileName, nil)
        } else {
            return nil
        }
    }

    /// UTC, with milliseconds, as the log's timestamps.
    var time: String { WallClock.utcTimestamp(epochMilliseconds: epochMilliseconds) }

    /// `"1.2.3.4"` of `"1.2.3.4:69"`, `"::1"` of `"[::1]:69"`.
    static func address(of client: String) -> String {
        if client.hasPrefix("["), let end = client.firstIndex(of: "]") {
            return String(client[client.index(after: client.startIndex)..<end])
        }
        guard let colon = client.lastIndex(of: ":") else { return client }
        return String(client[..<colon])
    }

    /// The JSON object of the event (`protocol`, `type`, `time`, `client`, `address`, `file`, and what the kind adds).
    var json: [String: Any] {
        var object: [String: Any] = [
            "id": id, "type": kind.rawValue, "protocol": "tftp", "time": time, "client": client, "address": clientAddress,
        ]
        if let mac { object["mac"] = mac }
        if let file { object["file"] = file }
        if let rule { object["rule"] = rule }
        if let transfer {
            if let served = transfer.servedName { object["served"] = served }
            var options: [String: Any] = ["mode": transfer.mode, "blksize": transfer.blockSize, "windowsize": transfer.windowSize]
            if let size = transfer.transferSize { options["tsize"] = size }
            if let timeout = transfer.timeoutSeconds { options["timeout"] = timeout }
            object["options"] = options
            if let size = transfer.transferSize { object["size"] = size }
        }
        if let progress {
            object["acknowledged"] = progress.bytesAcknowledged
            object["bytes"] = progress.bytesSent
            object["retransmissions"] = progress.retransmissions
            object["elapsed_s"] = (progress.elapsedSeconds * 1000).rounded() / 1000
        }
        if let report {
            object["outcome"] = report.outcome.label
            if !report.outcome.isDelivered { object["reason"] = report.outcome.description }
            object["bytes"] = report.bytesSent
            object["retransmissions"] = report.retransmissions
            object["duration_s"] = (report.durationSeconds * 1000).rounded() / 1000
        }
        if let refusal {
            object["reason"] = refusal.reason.rawValue
            if let code = refusal.errorCode { object["error_code"] = code }
        }
        return object
    }

    /// The event as one Server-Sent Events message.
    var serverSentEvent: [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array("id: \(id)\nevent: \(kind.rawValue)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }
}
