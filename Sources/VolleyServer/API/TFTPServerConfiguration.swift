import TFTPProtocol
import VolleySystem

/// Everything a ``TFTPServer`` needs to know before it starts.
///
/// The first three settings mirror the Jumpstarter TFTP driver (`root_dir`, `host`, `port`);
/// the rest are protocol limits with defaults that suit a netboot lab.
public struct TFTPServerConfiguration: Hashable, Sendable {
    /// The directory served read-only; requests can never leave it.
    public var rootDirectory: String = "/var/lib/tftpboot"
    /// The address to listen on: an IPv4 or IPv6 literal, a host name, `0.0.0.0`/`::` for
    /// all addresses, or empty to auto-detect (the host name's address, else the default
    /// route's source address, else all IPv4 addresses).
    public var host: String = ""
    /// The UDP port; 0 picks a free port (read it back from ``TFTPServer/port``).
    public var port: Int = 69

    /// The largest block size a client may negotiate (``maximumBlockSizeRange``).
    public var maximumBlockSize: Int = Self.maximumBlockSizeRange.upperBound
    /// Lower blksize to fit the MTU of the interface a request arrived on, so blocks are
    /// never fragmented (some U-Boot builds cannot reassemble fragments).
    public var clampBlockSizeToInterfaceMTU: Bool = true
    /// The largest window a client may negotiate (RFC 7440), in ``maximumWindowSizeRange``.
    public var maximumWindowSize: Int = 64
    /// The first retransmission timeout in milliseconds when the client did not negotiate one.
    /// Sub-second values suit fast LANs.
    public var retransmitTimeoutMilliseconds: Int = 1000
    /// The floor of the timeout measured from the round trip, in milliseconds. 20 ms lets a
    /// client that loses datagrams quietly (U-Boot with windows on an emulated e1000) finish;
    /// raise it for clients that answer late without losing anything.
    public var minimumRetransmitTimeoutMilliseconds: Int = 20
    /// The ceiling of the exponential retransmission backoff, in milliseconds.
    public var maximumRetransmitTimeoutMilliseconds: Int = 8000
    /// Retransmissions in a row without an answer before a transfer is dropped.
    public var maximumRetransmissions: Int = 5
    /// Transfers served at once; further requests are dropped (clients retry) and logged.
    public var maximumTransfers: Int = 20000
    /// Transfers at once from one client address; further requests from it are dropped
    /// (it retries). 0: no limit beyond ``maximumTransfers``.
    public var maximumTransfersPerClient: Int = 256
    /// New requests a second one client address may make (bursts of twice that); more are
    /// dropped. 0: unlimited.
    public var requestsPerSecondPerClient: Int = 200
    /// ERROR replies a second to one client address (bursts of twice that); beyond it
    /// errors are not sent, so a spoofed source cannot use the server as a reflector.
    /// 0: unlimited.
    public var errorRepliesPerSecondPerClient: Int = 20
    /// ERROR replies a second in total (bursts of twice that). 0: unlimited.
    public var errorRepliesPerSecond: Int = 1000
    /// Run every transfer over the listening socket, told apart by client address and port,
    /// instead of a socket per transfer: for NAT, firewalls and Kubernetes (like dnsmasq's
    /// `tftp-single-port`). Receives and sends then batch across clients.
    public var singlePort: Bool = false
    /// Send windows with UDP generic segmentation offload (one send carries many blocks)
    /// where the kernel supports it; falls back to plain batched sends otherwise.
    public var segmentationOffload: Bool = true
    /// Receive and send the datagrams of all transfer sockets that are ready at once in one
    /// io_uring submission (a socket per transfer, the default mode) where the kernel allows
    /// io_uring; otherwise, or when off, a system call per socket. Takes effect at start.
    public var ioUring: Bool = true
    /// Reactor threads: 0 (`auto`) runs one per CPU this process may use. Each has its own
    /// `SO_REUSEPORT` listener; a transfer stays on the reactor that took its request.
    /// On ``inheritedSockets`` all reactors share the sockets (except in single-port mode,
    /// which then runs one). Takes effect at start.
    public var reactors: Int = 0
    /// Sockets to serve instead of binding `host` and `port` (socket activation): UDP
    /// sockets, IPv4 or IPv6, already bound. The server makes them non-blocking and
    /// close-on-exec, enables packet info, and closes them when it stops.
    public var inheritedSockets: [Descriptor] = []
    /// Serve only files that everyone may read (mode `o+r`), as tftpd-hpa and dnsmasq do:
    /// a server running as root must not hand out `0600` files just because it can read
    /// them. Turn off to serve whatever the server's user can read.
    public var requireWorldReadable: Bool = true
    /// When ``TFTPServer`` runs as a `Service` and is asked to shut down gracefully, how
    /// long transfers in flight may finish before they are ended, in milliseconds.
    public var drainTimeoutMilliseconds: Int = 5000
    /// Delete the files this server's `putFile` created when it stops
    /// (Jumpstarter's `remove_created_on_close`).
    public var removeCreatedFilesOnStop: Bool = false

    // The values each setting accepts, defined once: validation, `volley settings` (its help,
    // its JSON export, which the Jumpstarter driver reads) and the `options:` of rules read them.

    /// `port`: 0 picks a free port.
    public static let portRange = 0...65535
    /// `max_block_size`: what RFC 2348 allows.
    public static let maximumBlockSizeRange = NegotiationLimits.blockSizeRange
    /// `max_window_size`: RFC 7440 allows up to 65535; larger windows than this only overrun receivers.
    public static let maximumWindowSizeRange = 1...1024
    /// `retransmit_timeout_ms`: RFC 2349's 1–255 s, in milliseconds, and sub-second values too.
    public static let retransmitTimeoutRange = 1...255_000
    /// `min_retransmit_timeout_ms`.
    public static let minimumRetransmitTimeoutRange = 1...60_000
    /// `max_retries`.
    public static let maximumRetransmissionsRange = 0...100
    /// `reactors`, besides 0 (`auto`).
    public static let reactorsRange = 1...256

    /// "NAME VALUE is out of range (LOW-HIGH)", or nil when `value` is in `range`.
    static func outOfRange(_ name: String, _ value: Int, _ range: ClosedRange<Int>, unit: String = "") -> String? {
        range.contains(value) ? nil : "\(name) \(value)\(unit) is out of range (\(range.lowerBound)-\(range.upperBound))"
    }

    /// Creates a configuration; every argument has the documented default.
    public init(
        rootDirectory: String = "/var/lib/tftpboot",
        host: String = "",
        port: Int = 69
    ) {
        self.rootDirectory = rootDirectory
        self.host = host
        self.port = port
    }

    /// Per-client rules (`rules:`): another root, name rewrites or protocol limits for the
    /// requests they match, first match wins. Empty: every request is served the same way.
    public var rules = BootRules()

    /// Checks ranges; returns a message naming the first bad setting, or nil.
    public func validationError() -> String? {
        if let problem = Self.outOfRange("port", port, Self.portRange) { return problem }
        if let problem = Self.outOfRange("maximum block size", maximumBlockSize, Self.maximumBlockSizeRange) { return problem }
        if let problem = Self.outOfRange("maximum window size", maximumWindowSize, Self.maximumWindowSizeRange) { return problem }
        if let problem = Self.outOfRange("retransmit timeout", retransmitTimeoutMilliseconds, Self.retransmitTimeoutRange, unit: " ms") {
            return problem
        }
        if let problem = Self.outOfRange(
            "minimum retransmit timeout", minimumRetransmitTimeoutMilliseconds, Self.minimumRetransmitTimeoutRange, unit: " ms")
        {
            return problem
        }
        if maximumRetransmitTimeoutMilliseconds < retransmitTimeoutMilliseconds {
            return "maximum retransmit timeout must be at least the retransmit timeout"
        }
        if let problem = Self.outOfRange("maximum retransmissions", maximumRetransmissions, Self.maximumRetransmissionsRange) {
            return problem
        }
        if maximumTransfers < 1 { return "maximum transfers must be at least 1" }
        if reactors != 0, !Self.reactorsRange.contains(reactors) {
            return
                "reactors \(reactors) is out of range (\(Self.reactorsRange.lowerBound)-\(Self.reactorsRange.upperBound), or 0 for one per CPU)"
        }
        if drainTimeoutMilliseconds < 0 { return "drain timeout must not be negative" }
        if maximumTransfersPerClient < 0 || requestsPerSecondPerClient < 0 || errorRepliesPerSecondPerClient < 0
            || errorRepliesPerSecond < 0
        {
            return "per-client limits and rates must not be negative (0 means unlimited)"
        }
        if let problem = rules.validationError(directoryExists: FileSystem.isDirectory) { return problem }
        return nil
    }
}
