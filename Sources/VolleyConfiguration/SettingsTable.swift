import VolleyServer

/// Every setting of `volley serve`, in the order the README and `volley settings` list them.
public enum SettingsTable {
    public static let rootDirectory = SettingDefinition.text(
        "root_dir", flag: "root", valueName: "dir",
        "Directory served read-only; requests never leave it.", \.server.rootDirectory)
    public static let host = SettingDefinition.text(
        "host", flag: "host", valueName: "addr", whenEmpty: "auto-detect",
        "IPv4/IPv6 address or host name to listen on; 0.0.0.0 for all IPv4, :: for all IPv4 and IPv6; empty auto-detects (the host name's address, else the default route's source address, else all IPv4).",
        \.server.host)
    public static let port = SettingDefinition.integer(
        "port", flag: "port", valueName: "n", range: TFTPServerConfiguration.portRange,
        "UDP port; 0 picks a free one and logs it.", \.server.port)
    public static let maximumBlockSize = SettingDefinition.integer(
        "max_block_size", flag: "max-block-size", valueName: "bytes", range: TFTPServerConfiguration.maximumBlockSizeRange,
        "Largest blksize a client may negotiate.", \.server.maximumBlockSize)
    public static let mtuClamp = SettingDefinition.boolean(
        "mtu_clamp", flag: "mtu-clamp",
        "Lower blksize to fit the MTU of the interface the request came in on (fragmented blocks break some U-Boot builds); logged when it happens.",
        \.server.clampBlockSizeToInterfaceMTU)
    public static let maximumWindowSize = SettingDefinition.integer(
        "max_window_size", flag: "max-window-size", valueName: "blocks", range: TFTPServerConfiguration.maximumWindowSizeRange,
        "Largest windowsize a client may negotiate.", \.server.maximumWindowSize)
    public static let retransmitTimeout = SettingDefinition.integer(
        "retransmit_timeout_ms", flag: "retransmit-timeout", valueName: "ms", range: TFTPServerConfiguration.retransmitTimeoutRange,
        "First retransmission timeout when the client sets no timeout option; sub-second values are fine on a LAN.",
        \.retransmitTimeout)
    public static let minimumRetransmitTimeout = SettingDefinition.integer(
        "min_retransmit_timeout_ms", flag: "min-retransmit-timeout", valueName: "ms",
        range: TFTPServerConfiguration.minimumRetransmitTimeoutRange,
        "Floor of the retransmission timeout measured from each transfer's round trip (RFC 6298).",
        \.server.minimumRetransmitTimeoutMilliseconds)
    public static let maximumRetransmitTimeout = SettingDefinition.integer(
        "max_retransmit_timeout_ms", flag: nil, valueName: "ms",
        "Ceiling of the exponential backoff.", \.server.maximumRetransmitTimeoutMilliseconds)
    public static let maximumRetries = SettingDefinition.integer(
        "max_retries", flag: "max-retries", valueName: "n", range: TFTPServerConfiguration.maximumRetransmissionsRange,
        "Retransmissions in a row without an answer before a transfer is dropped.", \.server.maximumRetransmissions)
    public static let maximumTransfers = SettingDefinition.integer(
        "max_transfers", flag: "max-transfers", valueName: "n",
        "Transfers at once; further requests are dropped (clients retry) with a warning.", \.server.maximumTransfers)
    public static let maximumTransfersPerClient = SettingDefinition.integer(
        "max_transfers_per_client", flag: "max-transfers-per-client", valueName: "n",
        "Transfers at once from one client address; further requests from it are dropped (it retries). 0: no limit.",
        \.server.maximumTransfersPerClient)
    public static let requestRatePerClient = SettingDefinition.integer(
        "request_rate_per_client", flag: "request-rate-per-client", valueName: "n",
        "New requests a second one client address may make (bursts of twice that); more are dropped. 0: unlimited.",
        \.server.requestsPerSecondPerClient)
    public static let errorRatePerClient = SettingDefinition.integer(
        "error_rate_per_client", flag: "error-rate-per-client", valueName: "n",
        "ERROR replies a second to one client address (bursts of twice that); beyond it bad requests get no answer, so a spoofed source cannot use volley as a reflector. 0: unlimited.",
        \.server.errorRepliesPerSecondPerClient)
    public static let errorRateTotal = SettingDefinition.integer(
        "error_rate_total", flag: "error-rate-total", valueName: "n",
        "ERROR replies a second in total (bursts of twice that). 0: unlimited.",
        \.server.errorRepliesPerSecond)
    public static let requireWorldReadable = SettingDefinition.boolean(
        "require_world_readable", flag: "require-world-readable",
        "Serve only files everyone may read (mode o+r), as tftpd-hpa and dnsmasq do; others get ERROR 2.",
        \.server.requireWorldReadable)
    public static let logLevel = SettingDefinition.text(
        "log_level", flag: "log-level", valueName: "level",
        "trace, debug, info, notice, warning, error or critical.", \.logLevel)
    public static let logFormat = SettingDefinition.text(
        "log_format", flag: "log-format", valueName: "format",
        "text (one readable line per event) or json (one JSON object per line, for log shippers).", \.logFormat)
    public static let drainTimeout = SettingDefinition.integer(
        "drain_timeout_ms", flag: "drain-timeout", valueName: "ms",
        "On the first SIGTERM/SIGINT, how long transfers in flight may finish (no new requests are taken); a second signal stops at once.",
        \.server.drainTimeoutMilliseconds)
    public static let singlePort = SettingDefinition.boolean(
        "single_port", flag: "single-port",
        "Run every transfer over the listening socket, told apart by client address and port (for NAT, firewalls, Kubernetes); receives and sends then batch across clients.",
        \.server.singlePort)
    public static let reactors = SettingDefinition.reactorCount(
        "reactors", flag: "reactors",
        "Reactor threads, each with its own SO_REUSEPORT listener (a transfer stays on the one that took its request): a number, or auto for one per CPU this process may use."
    )
    public static let segmentationOffload = SettingDefinition.boolean(
        "segmentation_offload", flag: "segmentation-offload",
        "Send a window's full-size blocks as one UDP GSO datagram train where the kernel supports it; falls back to sendmmsg by itself.",
        \.server.segmentationOffload)
    public static let ioUring = SettingDefinition.boolean(
        "io_uring", flag: "io-uring",
        "With a socket per transfer, receive and send the datagrams of all the transfers that are ready at once in one io_uring submission; where the kernel forbids io_uring (kernel.io_uring_disabled, a container's seccomp filter) Volley uses a system call per socket by itself and says so at start.",
        \.server.ioUring)

    public static let user = SettingDefinition.text(
        "user", flag: "user", valueName: "name", whenEmpty: "none (stay as started)",
        "After binding the port and opening the root, run as this user (its groups too), with root's capabilities gone, as tftpd-hpa -u does. Only when started as root; the systemd unit uses User=volley instead.",
        \.user)

    public static let controlListen = SettingDefinition.text(
        "control_listen", flag: "control-listen", valueName: "addr", whenEmpty: "off",
        "Serve the HTTP control plane (files API, /metrics, /healthz) on HOST:PORT or unix:/path; empty turns it off. A non-loopback address needs control_token_file.",
        \.control.listen)
    public static let controlTokenFile = SettingDefinition.text(
        "control_token_file", flag: "control-token-file", valueName: "file",
        "File holding the bearer token every control-plane request must carry (Authorization: Bearer …); read again on every reload (SIGHUP, POST /v1/reload), so a token can be rotated without a restart.",
        \.control.tokenFile)
    public static let controlMaxUploadBytes = SettingDefinition.integer(
        "control_max_upload_bytes", flag: "control-max-upload-bytes", valueName: "bytes",
        "Largest file the control plane accepts by upload or fetch; larger ones get 413 and leave nothing behind.",
        \.control.maximumUploadBytes)
    public static let controlAllowFileURLs = SettingDefinition.boolean(
        "control_allow_file_urls", flag: "control-allow-file-urls",
        "Let POST /v1/files/{path} (volley files fetch) copy file:// URLs, that is any file volley can read on this machine, into the root, where TFTP serves it to anyone. http and https are always allowed.",
        \.control.allowFileURLs)
    public static let startStopped = SettingDefinition.boolean(
        "start_stopped", flag: "start-stopped",
        "Start with the TFTP service stopped and only the control plane (control_listen, required) up, until POST /v1/server/start starts it: for a driver that manages the files first, as the Jumpstarter driver does.",
        \.control.startStopped)
    public static let controlSessionTTL = SettingDefinition.integer(
        "control_session_ttl_s", flag: nil, valueName: "seconds",
        "Default time to live of a control-plane session; its files are removed when no heartbeat renews it in time.",
        \.control.sessionTTLSeconds)

    public static let httpListen = SettingDefinition.text(
        "http_listen", flag: "http-listen", valueName: "addrs", whenEmpty: "off",
        "Also serve the root over HTTP (GET and HEAD, ranges, keep-alive) on HOST:PORT, comma-separated for several (127.0.0.1:8080,[::1]:8080); the same rules, confinement and origin as TFTP. Empty turns it off.",
        \.http.listen)
    public static let httpHeaderTimeout = SettingDefinition.integer(
        "http_header_timeout_ms", flag: nil, valueName: "ms",
        "How long an HTTP connection may take to send a request's head before it is closed (against slow clients holding connections).",
        \.http.headerTimeoutMilliseconds)

    public static let origin = SettingDefinition.text(
        "origin", flag: "origin", valueName: "url",
        "Base URL (http, https or file) that names missing from the root are fetched from, once however many clients ask, into cache_dir. Needs a restart to change.",
        \.origin.url)
    public static let cacheDirectory = SettingDefinition.text(
        "cache_dir", flag: nil, valueName: "dir",
        "Where files fetched from the origin are kept (created when missing).", \.origin.cacheDirectory)
    public static let originTTL = SettingDefinition.integer(
        "origin_ttl_s", flag: nil, valueName: "seconds",
        "How long a fetched file is served before the origin is asked again (ETag or Last-Modified; unchanged files are not fetched again).",
        \.origin.ttlSeconds)
    public static let cacheMaximumBytes = SettingDefinition.integer(
        "cache_max_bytes", flag: nil, valueName: "bytes",
        "The most cache_dir may hold; least recently used files are deleted first.", \.origin.maximumCacheBytes)

    /// All of them.
    public static let all: [SettingDefinition] = [
        rootDirectory, host, port, maximumBlockSize, mtuClamp, maximumWindowSize, retransmitTimeout,
        minimumRetransmitTimeout, maximumRetransmitTimeout, maximumRetries, maximumTransfers, maximumTransfersPerClient,
        requestRatePerClient,
        errorRatePerClient, errorRateTotal, requireWorldReadable, logLevel, logFormat,
        drainTimeout, singlePort, reactors, segmentationOffload, ioUring, user,
        controlListen, controlTokenFile, controlMaxUploadBytes, controlAllowFileURLs, controlSessionTTL,
        startStopped, httpListen, httpHeaderTimeout, origin, cacheDirectory, originTTL, cacheMaximumBytes,
    ]

    /// The settings the `options:` of a rule may set for the requests it matches (besides
    /// `tsize`, which only rules have); each takes the same range there.
    public static let ruleOptions: [SettingDefinition] = [maximumBlockSize, maximumWindowSize, retransmitTimeout]

    /// The definition of YAML key `key`.
    public static func definition(forKey key: String) -> SettingDefinition? {
        all.first { $0.key == key }
    }
}
