/// Why a request was refused or dropped before a transfer started.
public enum RefusalReason: String, Hashable, Sendable, CaseIterable {
    /// The file does not exist.
    case fileNotFound = "file_not_found"
    /// The name leaves the root, loops, or is not permitted.
    case accessViolation = "access_violation"
    /// The name is a directory, FIFO, device or socket.
    case notARegularFile = "not_a_regular_file"
    /// The name is malformed (empty, NUL, `..`, too long).
    case invalidName = "invalid_name"
    /// The file is not readable by everyone and the policy serves only world-readable files.
    case notWorldReadable = "not_world_readable"
    /// The mode is neither octet nor netascii.
    case unsupportedMode = "unsupported_mode"
    /// A write request: the server is read-only.
    case writeRequest = "write_request"
    /// Not a TFTP packet, or a request that is too long.
    case malformed = "malformed"
    /// DATA, ACK or OACK where a request was expected (ERROR 4), or from an unknown
    /// client in single-port mode (ERROR 5).
    case unexpectedPacket = "unexpected_packet"
    /// At the transfer limit: dropped without an answer so that the client retries.
    case atCapacity = "at_capacity"
    /// The client sent more new requests a second than allowed: dropped without an answer.
    case rateLimited = "rate_limited"
    /// The client already has as many transfers as one client may: dropped (it retries).
    case clientAtCapacity = "client_at_capacity"
    /// The server is draining for shutdown: dropped without an answer.
    case shuttingDown = "shutting_down"
    /// Opening the file or the transfer's socket failed for another reason.
    case serverError = "server_error"
}
