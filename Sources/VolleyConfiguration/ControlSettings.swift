/// The settings of the HTTP control plane (`control_*` keys).
public struct ControlSettings: Sendable, Equatable {
    /// `HOST:PORT`, `[v6]:PORT` or `unix:/path`; empty: no control plane.
    public var listen = ""
    /// A file holding the bearer token; empty: no token required (loopback and unix sockets only).
    public var tokenFile = ""
    /// The largest upload or fetch accepted, in bytes.
    public var maximumUploadBytes = 4 << 30
    /// Whether fetches may copy `file://` URLs (files on this machine) into the root.
    public var allowFileURLs = false
    /// The default time to live of a session, in seconds.
    public var sessionTTLSeconds = 300
    /// Whether `volley serve` leaves the TFTP service stopped until the control plane starts it.
    public var startStopped = false

    /// Defaults: off.
    public init() {}
}
