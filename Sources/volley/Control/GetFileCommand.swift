import ArgumentParser
import AsyncHTTPClient
import Foundation
import VolleySystem

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
        guard destination != "-" else {
            try await Self.copy(response.body, to: .standardOutput, name: name)
            return
        }
        // Written beside the destination and renamed over it once complete: never half a file under its name.
        let partial = destination + ".part"
        let partialFile: OwnedDescriptor
        do {
            partialFile = try FileSystem.create(partial)
        } catch {
            throw ControlFailure(.usage, "cannot write \(partial)")
        }
        do {
            try await Self.copy(response.body, to: partialFile.descriptor, name: name)
        } catch {
            try? FileSystem.unlink(partial)
            throw error
        }
        try? partialFile.close()
        do {
            try FileSystem.rename(partial, to: destination)
        } catch {
            throw ControlFailure(.usage, "cannot write \(destination): \(error.reason)")
        }
    }

    /// Writes the whole of `body` to `output`.
    /// - Throws: ``ControlFailure`` when the body breaks off or a write fails.
    private static func copy(_ body: HTTPClientResponse.Body, to output: Descriptor, name: String) async throws {
        do {
            for try await buffer in body {
                try buffer.withUnsafeReadableBytes { bytes throws(SystemError) in try FileSystem.writeAll(output, bytes) }
            }
        } catch {
            throw ControlFailure(.failed, "\(name): download interrupted: \(error)")
        }
    }
}
