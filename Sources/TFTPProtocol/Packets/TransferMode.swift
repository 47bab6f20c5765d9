/// A transfer mode this server can serve; RFC 1350's "mail" is deliberately absent.
public enum TransferMode: String, Sendable {
    /// Bytes as they are on disk.
    case octet
    /// Text with LF sent as CR LF and CR as CR NUL.
    case netascii
}
