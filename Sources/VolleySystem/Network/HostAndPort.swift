/// An address to listen on as the settings write it: `HOST:PORT` or `[IPv6]:PORT`.
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    /// Why a text is not one.
    public enum Problem: Error, Equatable {
        /// `[IPv6]` without `:PORT` after it.
        case missingPortAfterBracket
        /// Neither `HOST:PORT` nor `[IPv6]:PORT` (a bare IPv6 address, no colon).
        case notHostAndPort
        /// An empty host, or a port that is not a number from 0 to 65535.
        case badHostOrPort
    }

    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        (self.host, self.port) = (host, port)
    }

    /// Parses `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:80`.
    public static func parse(_ text: String) -> Result<HostAndPort, Problem> {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.missingPortAfterBracket) }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            return .failure(.notHostAndPort)
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return .failure(.badHostOrPort) }
        return .success(HostAndPort(host: String(host), port: port))
    }

    /// `127.0.0.1:8080`, `[::1]:8080`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
