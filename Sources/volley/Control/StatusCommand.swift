import ArgumentParser
import Foundation

/// `volley status`: whether the TFTP service runs, where, and its totals.
struct StatusCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running server's TFTP service: address, transfers, bytes sent.",
        discussion: "Asks the control plane (volley serve --control-listen). Exit status: 0 running, 3 stopped, 4 cannot connect.")

    @OptionGroup var connection: ControlConnectionOptions

    @Flag(name: .long, help: "Print the server's JSON answer as it is.")
    var json = false

    func run(_ control: ControlConnection) async throws {
        let response = try await control.send(control.request(.GET, "/v1/server"), timeout: .seconds(30))
        try await ControlConnection.check(response, subject: "status")
        let bytes = try await ControlConnection.body(of: response)
        guard let status = try? JSONDecoder().decode(ServerStatus.self, from: Data(bytes)) else {
            throw ControlFailure(.failed, "status: the server's answer is not the expected JSON")
        }
        if json {
            print(String(decoding: bytes, as: UTF8.self))
        } else if status.running {
            print(
                "running on \(status.host) port \(status.port): \(status.transfers_active) transfer(s) active, \(status.served) served, \(status.bytes_sent) bytes sent"
            )
        } else {
            print("stopped (control plane up): \(status.served) served, \(status.bytes_sent) bytes sent")
        }
        if !status.running { throw ControlFailure(.refused, "the TFTP service is stopped") }
    }
}

/// `GET /v1/server`.
struct ServerStatus: Decodable {
    var running: Bool
    var host: String
    var port: Int
    var transfers_active: Int
    var served: Int
    var bytes_sent: Int64
}
