import ArgumentParser
import Foundation

/// `volley files ls`.
struct ListFilesCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the regular files under the root: size, modification time (UTC), path.")

    @OptionGroup var connection: ControlConnectionOptions

    @Flag(name: .long, help: "Print the server's JSON answer as it is.")
    var json = false

    func run(_ control: ControlConnection) async throws {
        let response = try await control.send(control.request(.GET, "/v1/files"), timeout: .seconds(60))
        try await ControlConnection.check(response, subject: "ls")
        let bytes = try await ControlConnection.body(of: response)
        if json {
            print(String(decoding: bytes, as: UTF8.self))
            return
        }
        struct Entry: Decodable {
            var path: String
            var size: Int64
            var modified: String
        }
        guard let entries = try? JSONDecoder().decode([Entry].self, from: Data(bytes)) else {
            throw ControlFailure(.failed, "ls: the server's answer is not the expected JSON")
        }
        let width = entries.map { String($0.size).count }.max() ?? 1
        for entry in entries {
            let size = String(entry.size)
            print(String(repeating: " ", count: width - size.count) + size + "  " + entry.modified + "  " + entry.path)
        }
    }
}
