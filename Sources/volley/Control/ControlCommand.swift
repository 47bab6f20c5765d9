import ArgumentParser
import Foundation

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
            FileHandle.standardError.write(Data("volley: \(failure.description)\n".utf8))
            throw ExitCode(failure.kind.rawValue)
        }
    }
}

/// Whether standard error is a terminal (progress bars go there only then).
var standardErrorIsTerminal: Bool { isatty(2) == 1 }
