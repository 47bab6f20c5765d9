import VolleySystem

/// Where the control plane listens: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path`.
public enum ControlAddress: Sendable, Equatable, CustomStringConvertible {
    /// A TCP address.
    case tcp(host: String, port: Int)
    /// A unix domain socket at this path.
    case unix(path: String)

    /// Parses the `control_listen` setting.
    /// - Throws: ``ControlPlaneError/invalidAddress(_:)`` with the reason.
    public init(parsing text: String) throws(ControlPlaneError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/") else {
                throw .invalidAddress(
                    "control_listen \"\(text)\": a unix socket needs an absolute path, e.g. unix:/run/volley/control.sock")
            }
            self = .unix(path: path)
            return
        }
        switch HostAndPort.parse(text) {
        case .success(let address):
            self = .tcp(host: address.host, port: address.port)
        case .failure(.missingPortAfterBracket):
            throw .invalidAddress("control_listen \"\(text)\": expected [IPv6]:PORT")
        case .failure(.notHostAndPort):
            throw .invalidAddress("control_listen \"\(text)\": expected HOST:PORT, [IPv6]:PORT or unix:/path")
        case .failure(.badHostOrPort):
            throw .invalidAddress("control_listen \"\(text)\": expected HOST:PORT with a port from 0 to 65535")
        }
    }

    /// Whether only this machine can connect: a unix socket or a loopback address.
    public var isLocal: Bool {
        switch self {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): HostAndPort(host: host, port: port).description
        }
    }
}

/// Why the control plane cannot start.
public enum ControlPlaneError: Error, Equatable, CustomStringConvertible {
    /// `control_listen` does not parse.
    case invalidAddress(String)
    /// A non-loopback address without a token.
    case tokenRequired(String)
    /// The token file is missing, unreadable or empty.
    case badTokenFile(String)

    public var description: String {
        switch self {
        case .invalidAddress(let message), .tokenRequired(let message), .badTokenFile(let message): message
        }
    }
}
