import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import VolleyServer
import VolleySystem
import VolleyConfiguration
import VolleyControl
import VolleyHTTP

/// `volley serve`: serve a directory in the foreground until SIGINT or SIGTERM.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a directory over TFTP in the foreground.",
        discussion: """
            Settings come from the built-in defaults, then the YAML file given with --config, \
            then the flags below (flags win); `volley settings` lists every YAML key. Logs go to \
            standard error: one line when serving (with the address and port actually bound) and \
            one line per finished transfer. SIGHUP re-reads the configuration file; SIGINT or \
            SIGTERM lets transfers in flight finish (up to --drain-timeout), a second one stops \
            at once; either way the exit status is 0.
            """
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file; see `volley settings` for the keys.", valueName: "file"))
    var config: String?

    @Option(name: .customLong(SettingsTable.rootDirectory.flag!), help: Self.help(SettingsTable.rootDirectory))
    var root: String?

    @Option(name: .customLong(SettingsTable.host.flag!), help: Self.help(SettingsTable.host))
    var host: String?

    @Option(name: .customLong(SettingsTable.port.flag!), parsing: .unconditional, help: Self.help(SettingsTable.port))
    var port: Int?

    @Option(
        name: .customLong(SettingsTable.maximumBlockSize.flag!), parsing: .unconditional, help: Self.help(SettingsTable.maximumBlockSize))
    var maxBlockSize: Int?

    @Option(
        name: .customLong(SettingsTable.maximumWindowSize.flag!), parsing: .unconditional, help: Self.help(SettingsTable.maximumWindowSize))
    var maxWindowSize: Int?

    @Flag(name: .customLong(SettingsTable.mtuClamp.flag!), inversion: .prefixedNo, help: Self.flagHelp(SettingsTable.mtuClamp))
    var mtuClamp: Bool?

    @Option(
        name: .customLong(SettingsTable.retransmitTimeout.flag!), parsing: .unconditional, help: Self.help(SettingsTable.retransmitTimeout))
    var retransmitTimeout: Int?

    @Option(
        name: .customLong(SettingsTable.minimumRetransmitTimeout.flag!), parsing: .unconditional,
        help: Self.help(SettingsTable.minimumRetransmitTimeout))
    var minRetransmitTimeout: Int?

    @Option(name: .customLong(SettingsTable.maximumRetries.flag!), parsing: .unconditional, help: Self.help(SettingsTable.maximumRetries))
    var maxRetries: Int?

    @Option(
        name: .customLong(SettingsTable.maximumTransfers.flag!), parsing: .unconditional, help: Self.help(SettingsTable.maximumTransfers))
    var maxTransfers: Int?

    @Option(
        name: .customLong(SettingsTable.maximumTransfersPerClient.flag!), parsing: .unconditional,
        help: Self.help(SettingsTable.maximumTransfersPerClient))
    var maxTransfersPerClient: Int?

    @Option(
        name: .customLong(SettingsTable.requestRatePerClient.flag!), parsing: .unconditional,
        help: Self.help(SettingsTable.requestRatePerClient))
    var requestRatePerClient: Int?

    @Option(
        name: .customLong(SettingsTable.errorRatePerClient.flag!), parsing: .unconditional,
        help: Self.help(SettingsTable.errorRatePerClient))
    var errorRatePerClient: Int?

    @Option(name: .customLong(SettingsTable.errorRateTotal.flag!), parsing: .unconditional, help: Self.help(SettingsTable.errorRateTotal))
    var errorRateTotal: Int?

    @Flag(
        name: .customLong(SettingsTable.requireWorldReadable.flag!), inversion: .prefixedNo,
        help: Self.flagHelp(SettingsTable.requireWorldReadable))
    var requireWorldReadable: Bool?

    @Flag(name: .customLong(SettingsTable.singlePort.flag!), inversion: .prefixedNo, help: Self.flagHelp(SettingsTable.singlePort))
    var singlePort: Bool?

    @Option(name: .customLong(SettingsTable.reactors.flag!), help: Self.help(SettingsTable.reactors))
    var reactors: String?

    @Flag(
        name: .customLong(SettingsTable.segmentationOffload.flag!), inversion: .prefixedNo,
        help: Self.flagHelp(SettingsTable.segmentationOffload))
    var segmentationOffload: Bool?
    @Flag(name: .customLong(SettingsTable.ioUring.flag!), inversion: .prefixedNo, help: Self.flagHelp(SettingsTable.ioUring))
    var ioUring: Bool?

    @Option(name: .customLong(SettingsTable.logLevel.flag!), help: Self.help(SettingsTable.logLevel))
    var logLevel: String?

    @Option(name: .customLong(SettingsTable.logFormat.flag!), help: Self.help(SettingsTable.logFormat))
    var logFormat: String?

    @Option(name: .customLong(SettingsTable.user.flag!), help: Self.help(SettingsTable.user))
    var user: String?

    @Option(name: .customLong(SettingsTable.drainTimeout.flag!), parsing: .unconditional, help: Self.help(SettingsTable.drainTimeout))
    var drainTimeout: Int?

    @Option(name: .customLong(SettingsTable.controlListen.flag!), help: Self.help(SettingsTable.controlListen))
    var controlListen: String?

    @Option(name: .customLong(SettingsTable.controlTokenFile.flag!), help: Self.help(SettingsTable.controlTokenFile))
    var controlTokenFile: String?

    @Option(
        name: .customLong(SettingsTable.controlMaxUploadBytes.flag!), parsing: .unconditional,
        help: Self.help(SettingsTable.controlMaxUploadBytes))
    var controlMaxUploadBytes: Int?

    @Flag(
        name: .customLong(SettingsTable.controlAllowFileURLs.flag!), inversion: .prefixedNo,
        help: Self.flagHelp(SettingsTable.controlAllowFileURLs))
    var controlAllowFileURLs: Bool?

    @Flag(
        name: .customLong(SettingsTable.startStopped.flag!), inversion: .prefixedNo,
        help: Self.flagHelp(SettingsTable.startStopped))
    var startStopped: Bool?

    @Option(name: .customLong(SettingsTable.httpListen.flag!), help: Self.help(SettingsTable.httpListen))
    var httpListen: String?

    @Option(name: .customLong(SettingsTable.origin.flag!), help: Self.help(SettingsTable.origin))
    var origin: String?

    /// The flags that were given, as setting values (they override the file).
    private var givenFlags: [(SettingDefinition, SettingValue?)] {
        [
            (SettingsTable.rootDirectory, root.map(SettingValue.text)),
            (SettingsTable.host, host.map(SettingValue.text)),
            (SettingsTable.port, port.map(SettingValue.integer)),
            (SettingsTable.maximumBlockSize, maxBlockSize.map(SettingValue.integer)),
            (SettingsTable.maximumWindowSize, maxWindowSize.map(SettingValue.integer)),
            (SettingsTable.mtuClamp, mtuClamp.map(SettingValue.boolean)),
            (SettingsTable.retransmitTimeout, retransmitTimeout.map(SettingValue.integer)),
            (SettingsTable.minimumRetransmitTimeout, minRetransmitTimeout.map(SettingValue.integer)),
            (SettingsTable.maximumRetries, maxRetries.map(SettingValue.integer)),
            (SettingsTable.maximumTransfers, maxTransfers.map(SettingValue.integer)),
            (SettingsTable.maximumTransfersPerClient, maxTransfersPerClient.map(SettingValue.integer)),
            (SettingsTable.requestRatePerClient, requestRatePerClient.map(SettingValue.integer)),
            (SettingsTable.errorRatePerClient, errorRatePerClient.map(SettingValue.integer)),
            (SettingsTable.errorRateTotal, errorRateTotal.map(SettingValue.integer)),
            (SettingsTable.requireWorldReadable, requireWorldReadable.map(SettingValue.boolean)),
            (SettingsTable.singlePort, singlePort.map(SettingValue.boolean)),
            (SettingsTable.reactors, reactors.map(SettingValue.text)),
            (SettingsTable.segmentationOffload, segmentationOffload.map(SettingValue.boolean)),
            (SettingsTable.ioUring, ioUring.map(SettingValue.boolean)),
            (SettingsTable.logLevel, logLevel.map(SettingValue.text)),
            (SettingsTable.logFormat, logFormat.map(SettingValue.text)),
            (SettingsTable.drainTimeout, drainTimeout.map(SettingValue.integer)),
            (SettingsTable.user, user.map(SettingValue.text)),
            (SettingsTable.controlListen, controlListen.map(SettingValue.text)),
            (SettingsTable.controlTokenFile, controlTokenFile.map(SettingValue.text)),
            (SettingsTable.controlMaxUploadBytes, controlMaxUploadBytes.map(SettingValue.integer)),
            (SettingsTable.controlAllowFileURLs, controlAllowFileURLs.map(SettingValue.boolean)),
            (SettingsTable.startStopped, startStopped.map(SettingValue.boolean)),
            (SettingsTable.httpListen, httpListen.map(SettingValue.text)),
            (SettingsTable.origin, origin.map(SettingValue.text)),
        ]
    }

    /// Runs on the main thread, which stays outside Swift's concurrency pool: dropping
    /// privileges there reaches every thread (from a pool thread, glibc's broadcast of the
    /// new IDs missed the parked main thread, which stayed root). The service group then
    /// runs on the pool while the main thread waits.
    func run() throws {
        let settings = try loadSettings()
        let logSettings = LogSettings(level: try settings.parsedLogLevel(), format: try settings.parsedLogFormat())
        logSettings.bootstrap()
        let logger = Logger(label: "volley")
        ResourceLimits.raiseOpenFilesLimit()

        // Settings and the root are validated by `server.start()`, which names the problem.
        var configuration = settings.server
        configuration.rootDirectory = Self.absolute(configuration.rootDirectory)
        let inherited = Systemd.listenSockets()
        if !inherited.isEmpty {
            if let bad = inherited.first(where: { !$0.isInetDatagram }) {
                throw StartupFailure("socket activation passed descriptor \(bad.descriptor) (\(bad.name)), which is not a UDP socket")
            }
            configuration.inheritedSockets = inherited.map { $0.descriptor }
            let names = inherited.map { "\($0.name) (fd \($0.descriptor))" }.joined(separator: ", ")
            logger.info(
                "socket activation: serving the \(inherited.count) socket(s) systemd passed: \(names); host and port settings are ignored")
        }

        // Trapped before the server starts: a signal right after READY must not kill volley.
        let (stopSignals, hangups, statusRequests) = try waitFor {
            (await StopSignals.trap(), await ConfigurationReloader.trap(), await StatusReporter.trap())
        }
        let notifier = ServiceNotifier()
        let health = ReactorHealth()
        let metrics = settings.control.listen.isEmpty ? nil : TransferMetrics()
        let events = metrics.map { _ in EventHub() }
        let heartbeat = TFTPServerHeartbeat(intervalMilliseconds: notifier.heartbeatMilliseconds) { statistics in
            health.beat()
            notifier.beat(statistics)
        }
        let origin = try Self.origin(settings.origin, logger: logger)
        let server = TFTPServer(
            configuration: configuration, logger: logger, heartbeat: heartbeat,
            observers: [notifier] + (metrics.map { [$0] } ?? []) + (events.map { [$0] } ?? []),
            origin: origin)
        let controlToken = try metrics.map { _ in try Self.controlToken(settings.control) }
        let reloader = ConfigurationReloader(
            signals: hangups, server: server, notifier: notifier, logger: logger, logSettings: logSettings,
            controlToken: controlToken, load: { try self.loadSettings() })
        let controlPlane = metrics.flatMap { metrics in
            controlToken.map { token in
                Self.controlPlane(
                    settings.control, token: token, server: server, metrics: metrics, events: events ?? EventHub(), health: health,
                    reload: { reloader.reload() }, logger: logger)
            }
        }
        let httpServer = try Self.httpFileServer(settings.http, server: server, logger: logger)
        if settings.control.startStopped {
            // Checked now, so that a bad setting stops the start rather than the first POST /v1/server/start.
            if controlPlane == nil {
                throw StartupFailure(
                    "cannot start: start_stopped needs control_listen (the control plane is what starts the TFTP service)")
            }
            if let problem = configuration.validationError() { throw StartupFailure("cannot start: invalid configuration: \(problem)") }
        } else {
            do {
                try server.start()
            } catch {
                throw StartupFailure("cannot start: \(error)")
            }
        }
        Self.removeStaleUploads(of: server, logger: logger)
        if !settings.user.isEmpty { try dropPrivileges(to: settings.user, logger: logger) }
        notifier.ready(server.statistics, host: server.host, port: server.port)
        logger.info("\(StartupSummary(settings))")
        if settings.control.startStopped {
            logger.notice("the TFTP service is stopped (start_stopped) until the control plane starts it: POST /v1/server/start")
        } else {
            FetchHint.log(server, logger: logger)
        }

        let handle = ServiceGroupHandle()
        let group = ServiceGroup(
            configuration: .init(
                // Graceful shutdown goes from the last service to the first: the server drains
                // first while the signal listener, shut down last, still listens.
                services: [
                    .init(service: StopSignals(signals: stopSignals, server: server, notifier: notifier, logger: logger, group: handle)),
                    .init(service: reloader),
                    .init(service: StatusReporter(signals: statusRequests, server: server, logger: logger)),
                ] + (controlPlane.map { [.init(service: $0)] } ?? []) + (httpServer.map { [.init(service: $0)] } ?? []) + [
                    // Shut down before the control plane, which stays up while transfers drain.
                    .init(service: DrainOnShutdown(server: server), successTerminationBehavior: .gracefullyShutdownGroup)
                ],
                logger: logger))
        handle.set(group)
        try waitFor { try await group.run() }
    }

    /// Removes what uploads interrupted by a crash left in the root, saying what.
    private static func removeStaleUploads(of server: TFTPServer, logger: Logger) {
        do {
            let removed = try server.removeStaleUploads()
            guard !removed.isEmpty else { return }
            let shown = removed.prefix(10).joined(separator: ", ") + (removed.count > 10 ? ", …" : "")
            logger.notice(
                "removed \(removed.count) upload temporar\(removed.count == 1 ? "y" : "ies") an interrupted upload left: \(shown)")
        } catch {
            logger.warning("cannot remove the temporaries of interrupted uploads from \(server.configuration.rootDirectory): \(error)")
        }
    }

    /// The origin `settings` name, nil when none; a bad URL or cache directory stops the start.
    private static func origin(_ settings: OriginSettings, logger: Logger) throws -> HTTPOrigin? {
        guard !settings.url.isEmpty else { return nil }
        do {
            let origin = try HTTPOrigin(
                base: settings.url, cacheDirectory: absolute(settings.cacheDirectory), ttlSeconds: settings.ttlSeconds,
                maximumCacheBytes: settings.maximumCacheBytes, logger: logger)
            logger.info("names missing from the root are fetched from \(settings.url) into \(origin.cacheDirectory)")
            return origin
        } catch {
            throw StartupFailure("cannot use the origin: \(error)")
        }
    }

    /// The HTTP file server `settings` ask for, nil when `http_listen` is empty; a bad address stops the start.
    private static func httpFileServer(_ settings: HTTPSettings, server: TFTPServer, logger: Logger) throws -> HTTPFileServer? {
        let listed = settings.listen.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !listed.isEmpty else { return nil }
        var addresses: [HostAndPort] = []
        for text in listed {
            guard case .success(let address) = HostAndPort.parse(text) else {
                throw StartupFailure(
                    "cannot start the HTTP file server: http_listen \(text.debugDescription) is not HOST:PORT or [v6]:PORT")
            }
            addresses.append(address)
        }
        guard settings.headerTimeoutMilliseconds >= 100 else {
            throw StartupFailure("cannot start the HTTP file server: http_header_timeout_ms must be at least 100")
        }
        return HTTPFileServer(
            addresses: addresses, server: server, headerTimeoutMilliseconds: settings.headerTimeoutMilliseconds, logger: logger)
    }

    /// The control plane's token `settings` ask for; a bad address, token file or a
    /// non-loopback address without a token stops the start with one line.
    private static func controlToken(_ settings: ControlSettings) throws -> ControlToken {
        do {
            return try ControlToken(file: settings.tokenFile, address: try ControlAddress(parsing: settings.listen))
        } catch {
            throw StartupFailure("cannot start the control plane: \(error)")
        }
    }

    /// The control plane `settings` ask for, on the address of `token`, checking requests against it.
    private static func controlPlane(
        _ settings: ControlSettings, token: ControlToken, server: TFTPServer, metrics: TransferMetrics, events: EventHub,
        health: ReactorHealth, reload: @escaping @Sendable () -> String?, logger: Logger
    ) -> ControlPlane {
        let configuration = ControlPlaneConfiguration(
            address: token.address, token: token,
            maximumUploadBytes: settings.maximumUploadBytes, sessionTTLSeconds: settings.sessionTTLSeconds,
            allowFileURLs: settings.allowFileURLs)
        return ControlPlane(
            configuration: configuration, server: server, metrics: metrics, events: events, health: health, reload: reload,
            logger: logger)
    }

    /// Becomes `user` now that the port is bound and the root is open, as tftpd-hpa's `-u`.
    private func dropPrivileges(to user: String, logger: Logger) throws {
        guard Privileges.isRoot else {
            logger.notice("user \(user) is ignored: volley is not running as root")
            return
        }
        guard let account = Privileges.account(named: user) else {
            throw StartupFailure("cannot drop privileges: there is no user \"\(user)\"")
        }
        do {
            try Privileges.drop(to: account)
        } catch {
            throw StartupFailure("cannot drop privileges to \(user): \(error)")
        }
        logger.info("running as user \(user) (uid \(account.userID), gid \(account.groupID)); root privileges dropped")
    }

    /// Defaults, then the YAML file, then the flags.
    func loadSettings() throws(SettingsError) -> VolleySettings {
        var settings = VolleySettings()
        if let config {
            do {
                try SettingsFile.load(config, into: &settings)
            } catch {
                throw SettingsError("\(config): \(error)")
            }
        }
        for case let (definition, value?) in givenFlags {
            try definition.store(&settings, value)
        }
        return settings
    }

    /// `path` made absolute against the working directory, so that the logs name the real root.
    private static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: (try? FileSystem.currentDirectory()) ?? "", isDirectory: true))
            .standardizedFileURL.path
    }

    private static func help(_ setting: SettingDefinition) -> ArgumentHelp {
        ArgumentHelp(setting.help, valueName: setting.valueName)
    }

    private static func flagHelp(_ setting: SettingDefinition) -> ArgumentHelp {
        ArgumentHelp(setting.help)
    }
}
