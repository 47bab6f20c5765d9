import ArgumentParser
import VolleyServer

/// `volley`: the command line of the Volley TFTP server.
@main
struct VolleyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volley",
        abstract: "A read-only TFTP server for netboot labs, on one epoll reactor thread per core.",
        discussion: """
            Serves a directory read-only over TFTP (RFC 1350) with the blksize, tsize, timeout \
            and windowsize options (RFC 2347, 2348, 2349, 7440). Requests cannot leave the \
            directory: "..", absolute paths and symlinks pointing outside are refused, and \
            writes are always refused.

            Example: volley serve --root /srv/tftp --host 0.0.0.0 --port 69
            """,
        version: Volley.version,
        subcommands: [
            ServeCommand.self, SettingsCommand.self, RulesCommand.self, FilesCommand.self, StatusCommand.self, SessionCommand.self,
            WatchCommand.self, ClientsCommand.self,
        ],
        defaultSubcommand: nil
    )
}
