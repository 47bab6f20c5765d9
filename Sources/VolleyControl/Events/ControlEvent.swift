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
        case started, finished, refused
    }

    /// Its number: increasing, and the SSE `id:` a client resumes from (`Last-Event-ID`).
    var id: UInt64 = 0
    let kind: Kind
    /// UTC, with milliseconds, as the log's timestamps.
    let time: String
    /// `"127.0.0.1:39120"`.
    let client: String
    /// The client's IP address alone.
    let clientAddress: String
    let file: String?
    let rule: String?
    let transfer: TransferDescription?
    let report: TransferReport?
    let refusal: RefusedRequest?

    /// The event the stream carries for `event`; nil for the server's own lifecycle events.
    init?(_ event: TFTPServerEvent) {
        time = WallClock.utcTimestamp()
        switch event {
        case .transferStarted(let described):
            (kind, client, clientAddress, file, rule) = (
                .started, described.client, described.clientAddress, described.fileName, described.rule
            )
            (transfer, report, refusal) = (described, nil, nil)
        case .transferFinished(let finished):
            let described = finished.transfer
            (kind, client, clientAddress, file, rule) = (
                .finished, described.client, described.clientAddress, described.fileName, described.rule
            )
            (transfer, report, refusal) = (described, finished, nil)
        case .requestRefused(let refused):
            (kind, client, clientAddress, file, rule) = (.refused, refused.client, Self.address(of: refused.client), refused.fileName, nil)
            (transfer, report, refusal) = (nil, nil, refused)
        case .listening, .stoppedAccepting, .reloaded:
            return nil
        }
    }

    /// `"1.2.3.4"` of `"1.2.3.4:69"`, `"::1"` of `"[::1]:69"`.
    static func address(of client: String) -> String {
        if client.hasPrefix("["), let end = client.firstIndex(of: "]") {
            return String(client[client.index(after: client.startIndex)..<end])
        }
        guard let colon = client.lastIndex(of: ":") else { return client }
        return String(client[..<colon])
    }

    /// The JSON object of the event (`protocol`, `type`, `time`, `client`, `file`, and what the kind adds).
    var json: [String: Any] {
        var object: [String: Any] = ["id": id, "type": kind.rawValue, "protocol": "tftp", "time": time, "client": client]
        if let file { object["file"] = file }
        if let rule { object["rule"] = rule }
        if let transfer {
            var options: [String: Any] = ["mode": transfer.mode, "blksize": transfer.blockSize, "windowsize": transfer.windowSize]
            if let size = transfer.transferSize { options["tsize"] = size }
            if let timeout = transfer.timeoutSeconds { options["timeout"] = timeout }
            object["options"] = options
            if let size = transfer.transferSize { object["size"] = size }
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
