import ArgumentParser

/// `volley files sha256`: the remote `check_file_checksum`.
struct FileChecksumCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "sha256", abstract: "Print the SHA-256 of a file under the root, as sha256sum does.")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Path under the root.", valueName: "name"))
    var name: String

    func run(_ control: ControlConnection) async throws {
        guard let digest = try await Self.remoteDigest(of: name, control: control) else {
            throw ControlFailure(.notFound, "\(name): file not found")
        }
        print("\(digest)  \(name)")
    }

    /// The SHA-256 the server reports for `name`, nil when there is no such file.
    static func remoteDigest(of name: String, control: ControlConnection) async throws -> String? {
        let response = try await control.send(control.request(.HEAD, ControlConnection.filePath(name)), timeout: .minutes(10))
        if response.status.code == 404 { return nil }
        try await ControlConnection.check(response, subject: name)
        return response.headers.first(name: "X-Checksum-SHA256")
    }
}
