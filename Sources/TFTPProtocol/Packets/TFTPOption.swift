/// One name/value pair of an RRQ, WRQ or OACK (RFC 2347).
public struct TFTPOption: Hashable, Sendable {
    /// The option name, as sent (names compare case-insensitively).
    public var name: String
    /// The option value, as sent.
    public var value: String

    /// Creates an option pair.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
