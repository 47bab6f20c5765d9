import ArgumentParser
import VolleyConfiguration
import VolleyServer

/// `volley rules`: look at the per-client rules of a configuration.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Explain which of the `rules:` of a configuration a request matches.",
        subcommands: [ExplainRuleCommand.self])
}

/// `volley rules explain --client IP [--mac MAC] NAME`.
struct ExplainRuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Print the rule a request would match and the file it would be served.",
        discussion: """
            Reads the configuration as `volley serve --config` does and evaluates its rules, first \
            match wins, for a request for NAME from --client; the MAC comes from --mac, else from \
            this machine's neighbour table. Exit status 0 when a file would be served, 2 when not.

            Example: volley rules explain --config /etc/volley/volley.yaml --client 10.1.2.3 --mac aa:bb:cc:dd:ee:ff boot/vmlinuz
            """)

    @Option(name: .long, help: ArgumentHelp("YAML configuration file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Root directory (overrides the file's root_dir).", valueName: "dir"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp("The client's IP address.", valueName: "ip"))
    var client: String

    @Option(name: .long, help: ArgumentHelp("The client's MAC address (aa:bb:cc:dd:ee:ff).", valueName: "mac"))
    var mac: String?

    @Argument(help: ArgumentHelp("The requested file name, as the client sends it.", valueName: "name"))
    var name: String

    func run() throws {
        var settings = VolleySettings()
        if let config {
            do {
                try SettingsFile.load(config, into: &settings)
            } catch {
                throw StartupFailure("\(config): \(error)")
            }
        }
        if let root { settings.server.rootDirectory = root }
        var parsedMAC: MACAddress?
        if let mac {
            guard let parsed = MACAddress(mac) else { throw ValidationError("--mac \(mac) is not a MAC address (aa:bb:cc:dd:ee:ff)") }
            parsedMAC = parsed
        }
        if let problem = settings.server.rules.validationError(directoryExists: { _ in true }) { throw StartupFailure(problem) }
        guard let explanation = settings.server.explain(name: name, client: client, mac: parsedMAC) else {
            throw ValidationError("--client \(client) is not an IP address")
        }
        let decision = explanation.decision
        print("rule:  \(decision.rule ?? "none (the server's own settings)")")
        print("root:  \(decision.rootDirectory)")
        print("name:  \(decision.name)\(decision.caseInsensitive ? " (looked up ignoring case)" : "")")
        var overrides: [String] = []
        if let block = decision.options.maximumBlockSize { overrides.append("max_block_size=\(block)") }
        if let window = decision.options.maximumWindowSize { overrides.append("max_window_size=\(window)") }
        if decision.options.neverSendTransferSize { overrides.append("tsize=never") }
        if let timeout = decision.options.retransmitTimeoutMilliseconds { overrides.append("retransmit_timeout_ms=\(timeout)") }
        if !overrides.isEmpty { print("options: \(overrides.joined(separator: " "))") }
        if let file = explanation.servedFile {
            print("file:  \(file)")
        } else {
            print("file:  none: \(explanation.problem ?? "not found")")
            throw ExitCode(2)
        }
    }
}
