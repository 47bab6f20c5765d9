import ArgumentParser

/// `volley files rm`.
struct RemoveFileCommand: ControlCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a file under the root.")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Path under the root.", valueName: "name"))
    var name: String

    func run(_ control: ControlConnection) async throws {
        let response = try await control.send(control.request(.DELETE, ControlConnection.filePath(name)), timeout: .seconds(60))
        try await ControlConnection.check(response, subject: name)
    }
}
