import Synchronization
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
    /// Its Server-Sent Events bytes, once a subscriber has needed them.
    let encoded = EncodedOnce()

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

    /// The JSON object of the event (`protocol`, `type`, `time`, `client`, `address`, `file`,
    /// and what the kind adds), keys in alphabetical order.
    var json: [UInt8] {
        var object = JSONLine()
        if let acknowledged = progress?.bytesAcknowledged { object.field("acknowledged", acknowledged) }
        object.field("address", clientAddress)
        if let sent = progress?.bytesSent ?? report?.bytesSent { object.field("bytes", sent) }
        object.field("client", client)
        if let duration = report?.durationSeconds { object.field("duration_s", seconds: duration) }
        if let elapsed = progress?.elapsedSeconds { object.field("elapsed_s", seconds: elapsed) }
        if let code = refusal?.errorCode { object.field("error_code", code) }
        if let file { object.field("file", file) }
        object.field("id", id)
        if let mac { object.field("mac", mac) }
        if let transfer, transfer.transferProtocol == .tftp {
            object.field("options") { options in
                options.field("blksize", transfer.blockSize)
                options.field("mode", transfer.mode)
                if let timeout = transfer.timeoutSeconds { options.field("timeout", timeout) }
                if let size = transfer.transferSize { options.field("tsize", size) }
                options.field("windowsize", transfer.windowSize)
            }
        }
        if let outcome = report?.outcome.label { object.field("outcome", outcome) }
        object.field("protocol", (transfer?.transferProtocol ?? refusal?.transferProtocol ?? .tftp).rawValue)
        if let report, !report.outcome.isDelivered {
            object.field("reason", report.outcome.description)
        } else if let refusal {
            object.field("reason", refusal.reason.rawValue)
        }
        if let retransmissions = progress?.retransmissions ?? report?.retransmissions { object.field("retransmissions", retransmissions) }
        if let rule { object.field("rule", rule) }
        if let served = transfer?.servedName { object.field("served", served) }
        if let size = transfer?.transferSize { object.field("size", size) }
        object.field("time", time)
        object.field("type", kind.rawValue)
        return object.finished
    }

    /// The event as one Server-Sent Events message: encoded by the first subscriber that
    /// sends it, and the same bytes for every other.
    var serverSentEvent: [UInt8] {
        encoded.bytes { Array("id: \(id)\nevent: \(kind.rawValue)\ndata: ".utf8) + json + Array("\n\n".utf8) }
    }
}

/// An event's encoded bytes, made once and shared by its subscribers.
final class EncodedOnce: Sendable {
    private let cached = Mutex<[UInt8]?>(nil)

    /// The bytes, from `encode` the first time. Two subscribers at once may both encode; the bytes are the same.
    func bytes(_ encode: () -> [UInt8]) -> [UInt8] {
        if let bytes = cached.withLock({ $0 }) { return bytes }
        let bytes = encode()
        cached.withLock { $0 = bytes }
        return bytes
    }
}
