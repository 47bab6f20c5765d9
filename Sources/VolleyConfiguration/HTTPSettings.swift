/// The settings of the HTTP file server (`http_*` keys).
public struct HTTPSettings: Sendable, Equatable {
    /// `HOST:PORT` or `[v6]:PORT`, comma-separated for several; empty: no HTTP file server.
    public var listen = ""
    /// How long a connection may take to send a request's head before it is closed, in milliseconds.
    public var headerTimeoutMilliseconds = 10_000

    /// Defaults: off.
    public init() {}
}
