import ArgumentParser
import Foundation
import VolleySystem

/// `volley watch`: the server's events as they happen, one line each (`GET /v1/events`).
struct WatchCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a running server's transfers and refusals as they happen, one line each.",
        discussion: """
            Streams GET /v1/events from the control plane (volley serve --control-listen) until \
            interrupted. Each line: time, event, client (and its MAC address where the server \
            knows it), file, and what the event adds (the options of a start; how far a transfer \
            has come, at most once a second; the outcome, bytes and duration of an end; the reason \
            of a refusal).
            """)

    @OptionGroup var connection: ControlConnectionOptions

    @Option(help: ArgumentHelp("Only clients in this address or CIDR range.", valueName: "cidr"))
    var client: String?

    @Option(help: ArgumentHelp("Only the board with this MAC address (aa:bb:cc:dd:ee:ff).", valueName: "mac"))
    var mac: String?

    @Option(help: ArgumentHelp("Only files whose requested name matches this glob (as in rules:).", valueName: "glob"))
    var path: String?

    @Option(help: ArgumentHelp("Only these events, comma-separated: started, progress, finished, refused.", valueName: "types"))
    var type: String?

    @Flag(name: .long, help: "Print each event's JSON object as the server sends it.")
    var json = false

    func run(_ control: ControlConnection) async throws {
        var query: [String] = []
        for (name, value) in [("client", client), ("mac", mac), ("path", path), ("type", type)] {
            if let value { query.append("\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)") }
        }
        let target = "/v1/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let response = try await control.send(control.request(.GET, target))
        try await ControlConnection.check(response, subject: "events")
        var parser = ServerSentEvents()
        do {
            for try await buffer in response.body {
                for message in parser.feed(Array(buffer.readableBytesView)) {
                    if message.event == "dropped" {
                        throw ControlFailure(.failed, "the server dropped this watch: it fell behind; run it again")
                    }
                    try Self.emit((json ? message.data : Self.line(message)) + "\n")
                }
            }
        } catch let failure as ControlFailure {
            throw failure
        } catch {
            throw ControlFailure(.failed, "the event stream broke off: \(error)")
        }
        throw ControlFailure(.failed, "the server ended the event stream (it stopped)")
    }

    /// Writes `text` to standard output unbuffered, so that a pipe (grep, a log) sees each event as it happens.
    private static func emit(_ text: String) throws {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try FileSystem.writeAll(.standardOutput, $0) }
    }

    /// `2026-12-07T18:33:11.113Z finished 127.0.0.1:38115 "hello.txt" delivered 5 bytes in 0.002 s`.
    static func line(_ message: ServerSentEvents.Message) -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(message.data.utf8))) as? [String: Any] else {
            return message.data
        }
        var parts = [object["time"] as? String ?? "", message.event, object["client"] as? String ?? ""]
        if let mac = object["mac"] as? String { parts.append("mac=\(mac)") }
        if let file = object["file"] as? String { parts.append(file.debugDescription) }
        if let rule = object["rule"] as? String { parts.append("rule=\(rule)") }
        switch message.event {
        case "started":
            if let options = object["options"] as? [String: Any] {
                parts.append(
                    ["blksize", "windowsize", "tsize"].compactMap { key in options[key].map { "\(key)=\($0)" } }.joined(separator: " "))
            }
        case "progress":
            let acknowledged = (object["acknowledged"] as? NSNumber)?.uint64Value ?? 0
            if let size = (object["size"] as? NSNumber)?.uint64Value, size > 0 {
                parts.append("\(acknowledged)/\(size) bytes (\(acknowledged * 100 / size) %)")
            } else {
                parts.append("\(acknowledged) bytes")
            }
            if let elapsed = object["elapsed_s"] { parts.append("after \(elapsed) s") }
            if let retransmissions = object["retransmissions"] as? Int, retransmissions > 0 {
                parts.append("\(retransmissions) retransmissions")
            }
        case "finished":
            parts.append(object["outcome"] as? String ?? "")
            if let bytes = object["bytes"], let duration = object["duration_s"] { parts.append("\(bytes) bytes in \(duration) s") }
            if let retransmissions = object["retransmissions"] as? Int, retransmissions > 0 {
                parts.append("\(retransmissions) retransmissions")
            }
            if let reason = object["reason"] as? String { parts.append("(\(reason))") }
        default:
            if let reason = object["reason"] as? String { parts.append(reason) }
        }
        return parts.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// A Server-Sent Events parser (the subset the control plane sends: `id:`, `event:`, `data:`, comments).
struct ServerSentEvents {
    struct Message: Equatable {
        var id: String?
        var event = "message"
        var data = ""
    }

    private var pending: [UInt8] = []
    private var current = Message()
    private var hasData = false

    /// The messages completed by `bytes`.
    mutating func feed(_ bytes: [UInt8]) -> [Message] {
        pending += bytes
        var messages: [Message] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if hasData { messages.append(current) }
                current = Message()
                hasData = false
                continue
            }
            if line.hasPrefix(":") { continue }
            let field = line.prefix { $0 != ":" }
            var value = line.dropFirst(field.count).dropFirst()
            if value.hasPrefix(" ") { value = value.dropFirst() }
            switch field {
            case "id": current.id = String(value)
            case "event": current.event = String(value)
            case "data":
                current.data += (hasData ? "\n" : "") + value
                hasData = true
            default: continue
            }
        }
        return messages
    }
}
