/// What a running ``TFTPServer`` reports to its observers.
///
/// Events are delivered on the reactor thread as they happen: observers must be quick
/// and must not block (count, format, hand over; never wait).
public enum TFTPServerEvent: Sendable {
    /// A transfer was admitted and its first packet is going out.
    case transferStarted(TransferDescription)
    /// A transfer advanced: at most once a second for each transfer, and only while the
    /// client acknowledges new blocks (a stalled transfer reports nothing).
    case transferProgress(TransferProgress)
    /// A transfer ended and everything it held was freed.
    case transferFinished(TransferReport)
    /// A request got an ERROR (or was dropped) before any transfer started.
    case requestRefused(RefusedRequest)
    /// The server listens on an address.
    case listening(address: String, port: Int)
    /// The server stopped taking new requests (transfers in flight go on).
    case stoppedAccepting(activeTransfers: Int)
    /// A new configuration is in force; `rootChanged` when new transfers use a new root.
    case reloaded(rootChanged: Bool)
}

/// The protocol a transfer or a refusal was over.
public enum TransferProtocol: String, Hashable, Sendable {
    case tftp, http
}

/// One transfer as negotiated: who, what and how.
public struct TransferDescription: Hashable, Sendable {
    /// The client's address and port, e.g. `"127.0.0.1:39120"` or `"[::1]:39120"`.
    public var client: String
    /// The client's IP address alone.
    public var clientAddress: String
    /// The requested name as the client sent it (invalid UTF-8 replaced).
    public var fileName: String
    /// `"octet"` or `"netascii"`.
    public var mode: String
    /// The negotiated block size.
    public var blockSize: Int
    /// The negotiated window size.
    public var windowSize: Int
    /// The tsize sent in the OACK, when one was.
    public var transferSize: UInt64?
    /// The client's timeout option, when accepted.
    public var timeoutSeconds: Int?
    /// Whether an OACK was sent (the client asked for options the server accepted).
    public var acknowledgedOptions: Bool
    /// Whether the transfer runs over the listening socket (single-port mode).
    public var singlePort: Bool
    /// The rule of `rules:` that matched the request, nil when none did.
    public var rule: String? = nil
    /// The name looked up under the root, after a rule's `rewrite:` (the requested name when no rule rewrote it).
    public var servedName: String? = nil
    /// The client's MAC address from the kernel's neighbour table, when it had one (`"52:54:00:12:34:56"`).
    public var mac: String? = nil
    /// TFTP, or HTTP (the HTTP file server; block and window sizes then mean nothing).
    public var transferProtocol = TransferProtocol.tftp

    /// Describes a transfer.
    public init(
        client: String, clientAddress: String, fileName: String, mode: String, blockSize: Int, windowSize: Int,
        transferSize: UInt64?, timeoutSeconds: Int?, acknowledgedOptions: Bool, singlePort: Bool, rule: String? = nil,
        servedName: String? = nil, mac: String? = nil, transferProtocol: TransferProtocol = .tftp
    ) {
        (self.client, self.clientAddress, self.fileName, self.mode) = (client, clientAddress, fileName, mode)
        (self.blockSize, self.windowSize, self.transferSize, self.timeoutSeconds) = (blockSize, windowSize, transferSize, timeoutSeconds)
        (self.acknowledgedOptions, self.singlePort, self.rule) = (acknowledgedOptions, singlePort, rule)
        (self.servedName, self.mac, self.transferProtocol) = (servedName, mac, transferProtocol)
    }
}

/// How far a transfer in flight has come.
public struct TransferProgress: Hashable, Sendable {
    /// The transfer.
    public var transfer: TransferDescription
    /// Bytes of the file the client has acknowledged.
    public var bytesAcknowledged: UInt64
    /// DATA payload bytes sent so far, retransmissions included.
    public var bytesSent: UInt64
    /// Time since the request, in seconds.
    public var elapsedSeconds: Double
    /// Blocks and OACKs sent again after a timeout, so far.
    public var retransmissions: Int
}

/// How a transfer ended, with its figures.
public struct TransferReport: Hashable, Sendable {
    /// The transfer.
    public var transfer: TransferDescription
    /// How it ended.
    public var outcome: TransferOutcome
    /// DATA payload bytes sent, retransmissions included.
    public var bytesSent: UInt64
    /// Time from the request to the end, in seconds.
    public var durationSeconds: Double
    /// Blocks and OACKs sent again after a timeout.
    public var retransmissions: Int

    /// Reports a transfer's end.
    public init(transfer: TransferDescription, outcome: TransferOutcome, bytesSent: UInt64, durationSeconds: Double, retransmissions: Int) {
        (self.transfer, self.outcome, self.bytesSent) = (transfer, outcome, bytesSent)
        (self.durationSeconds, self.retransmissions) = (durationSeconds, retransmissions)
    }
}

/// A request that got no transfer.
public struct RefusedRequest: Hashable, Sendable {
    /// The client's address and port.
    public var client: String
    /// The requested name, when the packet was a request.
    public var fileName: String?
    /// Why.
    public var reason: RefusalReason
    /// The TFTP error code sent, or nil when the request was dropped without an answer.
    public var errorCode: UInt16?
    /// True when an ERROR was due but the error-reply rate limit held it back.
    public var replySuppressed: Bool = false
    /// Detail for the log (errno text, limits); never sent to the client.
    public var detail: String
    /// The client's MAC address, when the neighbour table had one.
    public var mac: String? = nil
    /// TFTP, or HTTP (then `errorCode` is nil: the HTTP status is in `detail`).
    public var transferProtocol = TransferProtocol.tftp

    /// Describes a refusal.
    public init(
        client: String, fileName: String?, reason: RefusalReason, errorCode: UInt16?, replySuppressed: Bool = false, detail: String,
        mac: String? = nil, transferProtocol: TransferProtocol = .tftp
    ) {
        (self.client, self.fileName, self.reason, self.errorCode) = (client, fileName, reason, errorCode)
        (self.replySuppressed, self.detail, self.mac, self.transferProtocol) = (replySuppressed, detail, mac, transferProtocol)
    }
}
