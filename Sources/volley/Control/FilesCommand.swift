import ArgumentParser

/// `volley files`: manage the files a running server serves, through its control plane.
struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "List, upload, download, check and delete the files a running server serves.",
        discussion: """
            Talks to the control plane of `volley serve --control-listen …` (the packaged service \
            listens on unix:/run/volley/control.sock). Paths are relative to the served root. \
            Exit status: 0 done, 1 failed, 2 not found, 3 refused by the server (token, \
            outside the root, too large, checksum mismatch, disk full), 4 cannot connect.

            Example: volley files put build/vmlinuz boot/vmlinuz --server /run/volley/control.sock
            """,
        subcommands: [
            ListFilesCommand.self, PutFileCommand.self, GetFileCommand.self, RemoveFileCommand.self,
            FileChecksumCommand.self, FetchFileCommand.self,
        ])
}
