import ArgumentParser
import Foundation

/// `volley clients`: the boards a running server saw lately (`GET /v1/clients`).
struct ClientsCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "List the boards a running server saw in the last hour: last seen, transfers in flight, last fetch, last error.",
        discussion:
            "Asks the control plane (volley serve --control-listen). One line per board: by MAC address where the server knows it (directly connected IPv4 boards), else by address."
    )

    @OptionGroup var connection: ControlConnectionOptions

    @Flag(name: .long, help: "Print the server's JSON answer as it is.")
    var json = false

    func run(_ control: ControlConnection) async throws {
        let response = try await control.send(control.request(.GET, "/v1/clients"), timeout: .seconds(30))
        try await ControlConnection.check(response, subject: "clients")
        let bytes = try await ControlConnection.body(of: response)
        if json {
            print(String(decoding: bytes, as: UTF8.self))
            return
        }
        guard let boards = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [[String: Any]] else {
            throw ControlFailure(.failed, "clients: the server's answer is not the expected JSON")
        }
        if boards.isEmpty { print("no client seen in the last hour") }
        for board in boards { print(Self.line(board)) }
    }

    /// `52:54:00:12:34:56 10.1.0.7  last seen 2026-…Z  1 in flight (boot/vmlinuz 42 %)  last: boot/vmlinuz delivered  error: …`.
    static func line(_ board: [String: Any]) -> String {
        let address = board["client"] as? String ?? "?"
        var parts = [(board["mac"] as? String).map { "\($0) \(address)" } ?? address, "last seen \(board["last_seen"] as? String ?? "?")"]
        let inFlight = board["in_flight"] as? [[String: Any]] ?? []
        if !inFlight.isEmpty {
            parts.append("\(inFlight.count) in flight (\(inFlight.map(Self.progress).joined(separator: ", ")))")
        }
        if let last = (board["fetches"] as? [[String: Any]])?.last {
            parts.append("last: \(last["file"] as? String ?? "?") \(last["outcome"] as? String ?? "?")")
        }
        if let error = board["last_error"] as? String { parts.append("error: \(error)") }
        return parts.joined(separator: "  ")
    }

    /// `boot/vmlinuz 42 %`, or the name alone before its first progress event.
    private static func progress(_ transfer: [String: Any]) -> String {
        let file = transfer["file"] as? String ?? "?"
        guard let acknowledged = (transfer["acknowledged"] as? NSNumber)?.uint64Value,
            let size = (transfer["tsize"] as? NSNumber)?.uint64Value, size > 0
        else { return file }
        return "\(file) \(acknowledged * 100 / size) %"
    }
}
