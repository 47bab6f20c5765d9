/// Errors of the Volley server API, mirroring the Jumpstarter TFTP driver's TftpError family.
public enum TFTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The named file does not exist under the root; carries the name as the caller gave it.
    case fileNotFound(String)
    /// The server was asked to stop or report its address while it was not running.
    case serverNotRunning
    /// The server was asked to start while it was already running.
    case serverAlreadyRunning
    /// The name lies outside the root or is otherwise not allowed; carries the name as given.
    case accessViolation(String)
    /// The configuration cannot work, e.g. the root directory is missing.
    case invalidConfiguration(String)
    /// Content did not match the SHA-256 it was announced with; carries the file name.
    case checksumMismatch(String)
    /// The listening socket could not be bound; carries the address and the reason with a hint.
    case cannotListen(address: String, reason: String)
    /// The file system is full (or the quota is used up); nothing was stored.
    case storageFull(String)
    /// Any other I/O failure; the message carries the call and the errno text.
    case io(String)

    /// A one-line explanation for logs and users.
    public var description: String {
        switch self {
        case .fileNotFound(let name): "file not found: \(name)"
        case .serverNotRunning: "server is not running"
        case .serverAlreadyRunning: "server is already running"
        case .accessViolation(let name): "access violation: \(name)"
        case .invalidConfiguration(let message): "invalid configuration: \(message)"
        case .checksumMismatch(let name): "checksum mismatch: \(name)"
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .storageFull(let message): "no space left: \(message)"
        case .io(let message): "I/O error: \(message)"
        }
    }
}
