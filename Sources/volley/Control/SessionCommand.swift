import ArgumentParser
import AsyncHTTPClient
import Foundation

/// `volley session`: files uploaded with a session's id are removed when it is closed or
/// expires (Jumpstarter's `remove_created_on_close`).
struct SessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Open, renew or close a control-plane session; its uploads are removed when it ends.",
        discussion: """
            A CI job opens a session, exports its id as VOLLEY_SESSION (or passes --session to \
            `volley files put` and `fetch`), renews it while it runs, and closes it at the end: \
            the files it uploaded are removed then, or when it expires without a renewal.

            Example: export VOLLEY_SESSION=$(volley session open --ttl 600)
            """,
        subcommands: [OpenSessionCommand.self, RenewSessionCommand.self, CloseSessionCommand.self])
}

struct OpenSessionCommand: ControlCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Open a session and print its id.")

    @OptionGroup var connection: ControlConnectionOptions

    @Option(
        name: .long,
        help: ArgumentHelp("Seconds it lives without a renewal (default: the server's control_session_ttl_s).", valueName: "seconds"))
    var ttl: Int?

    func run(_ control: ControlConnection) async throws {
        let request = control.request(.POST, "/v1/sessions" + (ttl.map { "?ttl_seconds=\($0)" } ?? ""))
        let response = try await control.send(request, timeout: .seconds(30))
        try await ControlConnection.check(response, subject: "session")
        print(try await Self.id(in: response))
    }

    static func id(in response: HTTPClientResponse) async throws -> String {
        let bytes = try await ControlConnection.body(of: response)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], let id = object["id"] as? String else {
            throw ControlFailure(.failed, "session: the server's answer is not the expected JSON")
        }
        return id
    }
}

struct RenewSessionCommand: ControlCommand {
    static let configuration = CommandConfiguration(commandName: "renew", abstract: "Renew a session for another time to live.")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Session id (default: $VOLLEY_SESSION).", valueName: "id"))
    var id: String?

    func run(_ control: ControlConnection) async throws {
        let id = try sessionID(id)
        let response = try await control.send(control.request(.POST, "/v1/sessions/\(id)/heartbeat"), timeout: .seconds(30))
        try await ControlConnection.check(response, subject: "session \(id)")
    }
}

struct CloseSessionCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "close", abstract: "Close a session and remove the files uploaded with it.")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Session id (default: $VOLLEY_SESSION).", valueName: "id"))
    var id: String?

    func run(_ control: ControlConnection) async throws {
        let id = try sessionID(id)
        let response = try await control.send(control.request(.DELETE, "/v1/sessions/\(id)"), timeout: .seconds(60))
        try await ControlConnection.check(response, subject: "session \(id)")
        let bytes = try await ControlConnection.body(of: response)
        let removed = (try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])?["removed"] as? [String] ?? []
        for path in removed { print("removed \(path)") }
    }
}

/// The given id, else `$VOLLEY_SESSION`.
private func sessionID(_ given: String?) throws -> String {
    guard let id = given ?? ProcessInfo.processInfo.environment["VOLLEY_SESSION"], !id.isEmpty else {
        throw ControlFailure(.usage, "give a session id or set VOLLEY_SESSION")
    }
    guard id.allSatisfy({ $0.isHexDigit }) else { throw ControlFailure(.usage, "\"\(id)\" is not a session id") }
    return id
}
