import ArgumentParser
import Foundation

/// `volley files fetch`: the server pulls a file from a URL (Jumpstarter's upload from a storage backend).
struct FetchFileCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Have the server download a URL (http, https, or file:// on the server) into the root.")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("http(s):// or file:// URL.", valueName: "url"))
    var url: String

    @Argument(help: ArgumentHelp("Path under the root.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Expected SHA-256; the file is stored only if it matches.", valueName: "hex"))
    var sha256: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Session id; the file is removed when the session ends (default: $VOLLEY_SESSION).", valueName: "id"))
    var session: String?

    func run(_ control: ControlConnection) async throws {
        var object = ["url": url]
        if let sha256 { object["sha256"] = sha256 }
        var headers = [("Content-Type", "application/json")]
        if let session = session ?? ProcessInfo.processInfo.environment["VOLLEY_SESSION"] { headers.append(("X-Volley-Session", session)) }
        var request = control.request(.POST, ControlConnection.filePath(name), headers: headers)
        request.body = .bytes(try JSONSerialization.data(withJSONObject: object))
        let response = try await control.send(request)
        try await ControlConnection.check(response, subject: name)
        print(try await PutFileCommand.summary(of: response))
    }
}
