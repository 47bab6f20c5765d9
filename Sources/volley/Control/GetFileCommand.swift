import ArgumentParser
import Foundation

/// `volley files get`.
struct GetFileCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Download a file from the root (to FILE, or to standard output with -).")

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Path under the root.", valueName: "name"))
    var name: String

    @Argument(
        help: ArgumentHelp("Where to write it (default: its name in the current directory; - for standard output).", valueName: "file"))
    var file: String?

    func run(_ control: ControlConnection) async throws {
        let response = try await control.send(control.request(.GET, ControlConnection.filePath(name)))
        try await ControlConnection.check(response, subject: name)
        let destination = file ?? URL(fileURLWithPath: name).lastPathComponent
        let toStandardOutput = destination == "-"
        let partial = destination + ".part"
        let handle: FileHandle
        if toStandardOutput {
            handle = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: partial, contents: nil), let opened = FileHandle(forWritingAtPath: partial) else {
                throw ControlFailure(.usage, "cannot write \(partial)")
            }
            handle = opened
        }
        do {
            for try await buffer in response.body { handle.write(Data(buffer.readableBytesView)) }
        } catch {
            if !toStandardOutput { try? FileManager.default.removeItem(atPath: partial) }
            throw ControlFailure(.failed, "\(name): download interrupted: \(error)")
        }
        guard !toStandardOutput else { return }
        try? handle.close()
        _ = try? FileManager.default.removeItem(atPath: destination)
        do {
            try FileManager.default.moveItem(atPath: partial, toPath: destination)
        } catch {
            throw ControlFailure(.usage, "cannot write \(destination): \(error.localizedDescription)")
        }
    }
}
