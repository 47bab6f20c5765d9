import ArgumentParser
import Dispatch
import Foundation
import Logging
import VolleyReactor
import VolleyServer

/// `volley serve`: serve a directory in the foreground until SIGINT or SIGTERM.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a directory over TFTP in the foreground.",
        discussion: """
            Settings come from the built-in defaults, then the YAML file given with --config, \
            then the flags below (flags win). Logs go to standard error: one line when serving \
            (with the address and port actually bound) and one line per finished transfer. \
            SIGINT or SIGTERM stops the server and exits 0.
            """
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file (keys: root_dir, host, port, max_block_size, …; see README).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Directory to serve read-only. (default: /var/lib/tftpboot)", valueName: "dir"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Address to listen on: an IPv4/IPv6 address or host name; 0.0.0.0 or :: for all addresses; empty to auto-detect. (default: auto-detect)", valueName: "addr"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp("UDP port; 0 picks a free port and logs it. (default: 69)", valueName: "n"))
    var port: Int?

    @Option(name: .long, help: ArgumentHelp("Largest blksize a client may negotiate, 8-65464. (default: 65464)", valueName: "bytes"))
    var maxBlockSize: Int?

    @Option(name: .long, help: ArgumentHelp("Largest windowsize a client may negotiate, 1-1024. (default: 64)", valueName: "blocks"))
    var maxWindowSize: Int?

    @Flag(name: .long, inversion: .prefixedNo, help: "Lower blksize to fit the MTU of the interface a request arrived on, so blocks are never fragmented. (default: on)")
    var mtuClamp: Bool?

    @Option(name: .long, help: ArgumentHelp("First retransmission timeout when the client sets none, in milliseconds (sub-second is fine on a LAN). (default: 1000)", valueName: "ms"))
    var retransmitTimeout: Int?

    @Option(name: .long, help: ArgumentHelp("Retransmissions in a row without an answer before a transfer is dropped. (default: 5)", valueName: "n"))
    var maxRetries: Int?

    @Option(name: .long, help: ArgumentHelp("Transfers served at once; further requests are dropped until some finish. (default: 20000)", valueName: "n"))
    var maxTransfers: Int?

    @Flag(name: .long, inversion: .prefixedNo, help: "Run every transfer over the listening socket, told apart by client address and port (for NAT, firewalls, Kubernetes). (default: off, a socket per transfer)")
    var singlePort: Bool?

    @Flag(name: .long, inversion: .prefixedNo, help: "Send windows with UDP segmentation offload (GSO) where the kernel supports it. (default: on)")
    var segmentationOffload: Bool?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. (default: info)", valueName: "level"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("On SIGTERM/SIGINT, how long transfers in flight may finish before the server stops; a second signal stops at once. (default: 5000)", valueName: "ms"))
    var drainTimeout: Int?

    func run() throws {
        let settings = try loadSettings()
        let logLevel = ReloadableLogLevel()
        logLevel.level = try settings.parsedLogLevel()
        logLevel.bootstrap()
        let logger = Logger(label: "volley")

        // Settings and the root are validated by `server.start()`, which names the problem.
        var configuration = settings.serverConfiguration
        let inherited = Systemd.listenSockets()
        if !inherited.isEmpty {
            if let bad = inherited.first(where: { !$0.isInetDatagram }) {
                throw StartupFailure("socket activation passed descriptor \(bad.descriptor) (\(bad.name)), which is not a UDP socket")
            }
            configuration.inheritedSockets = inherited.map { $0.descriptor }
            let names = inherited.map { "\($0.name) (fd \($0.descriptor))" }.joined(separator: ", ")
            logger.info("socket activation: serving the \(inherited.count) socket(s) systemd passed: \(names); host and port settings are ignored")
        }

        let notifier = ServiceNotifier()
        let server = TFTPServer(configuration: configuration, logger: logger, heartbeat: notifier.heartbeat)
        let signals = SignalInbox()
        do {
            try server.start()
        } catch {
            throw StartupFailure("cannot start: \(error)")
        }
        notifier.ready(server.statistics, host: server.host, port: server.port)
        printFetchHint(server, logger: logger)
        ServiceLifecycle(
            server: server, notifier: notifier, signals: signals, logger: logger,
            drainTimeoutMilliseconds: settings.drainTimeoutMs ?? 5000,
            reloadSettings: { try loadSettings() }, logLevel: logLevel
        ).run()
    }

    /// Defaults, then the YAML file, then the flags.
    private func loadSettings() throws -> VolleySettings {
        var settings = VolleySettings()
        if let config {
            do {
                settings = try VolleySettings.load(fromFile: config)
            } catch {
                throw StartupFailure("\(config): \(error)")
            }
        }
        settings.apply(self)
        return settings
    }

    /// Tells a newcomer how to fetch something right away.
    private func printFetchHint(_ server: TFTPServer, logger: Logger) {
        guard let file = (try? server.listFiles())?.first else {
            logger.info("the root is empty: put files in it, then fetch them with curl -O tftp://HOST:\(server.port)/NAME")
            return
        }
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        let shown = (host == "0.0.0.0" || host == "[::]") ? "127.0.0.1" : host
        logger.info("try: curl -o \((file as NSString).lastPathComponent) tftp://\(shown):\(server.port)/\(file)")
    }
}

