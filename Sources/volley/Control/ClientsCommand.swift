import ArgumentParser
import Foundation

/// `volley clients`: the boards a running server saw lately (`GET /v1/clients`).
struct ClientsCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "List the boards a running server saw in the last hour: last seen, transfers in flight, last fetch, last error.",
        discussion: "Asks the control plane (volley serve --control-listen). One line per board, by address.")

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

    /// `10.1.0.7  last seen 2026-…Z  1 in flight  last: boot/vmlinuz delivered  error: …`.
    static func line(_ board: [String: Any]) -> String {
        var parts = [board["client"] as? String ?? "?", "last seen \(board["last_seen"] as? String ?? "?")"]
        let inFlight = board["in_flight"] as? [[String: Any]] ?? []
        if !inFlight.isEmpty {
            parts.append("\(inFlight.count) in flight (\(inFlight.compactMap { $0["file"] as? String }.joined(separator: ", ")))")
        }
        if let last = (board["fetches"] as? [[String: Any]])?.last {
            parts.append("last: \(last["file"] as? String ?? "?") \(last["outcome"] as? String ?? "?")")
        }
        if let error = board["last_error"] as? String { parts.append("error: \(error)") }
        return parts.joined(separator: "  ")
    }
}
