import ArgumentParser
import VolleySystem

/// A `volley` subcommand that talks to a running server's control plane.
protocol ControlCommand: ParsableCommand, Sendable {
    var connection: ControlConnectionOptions { get }
    /// The work, on the concurrency pool.
    func run(_ control: ControlConnection) async throws
}

extension ControlCommand {
    /// Runs ``run(_:)``; a failure is one line on standard error and its exit status.
    func run() throws {
        let control = try connection.connect()
        do {
            try waitFor { try await self.run(control) }
        } catch let failure as ControlFailure {
            StandardError.write("volley: \(failure.description)\n")
            throw ExitCode(failure.kind.rawValue)
        }
    }
}
