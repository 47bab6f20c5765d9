/// The outcome of option negotiation: the transfer parameters and the OACK that announces them.
public struct NegotiatedTransfer: Hashable, Sendable {
    /// Payload bytes per DATA block: 512 unless negotiated.
    public var blockSize: Int
    /// Blocks sent per window: 1 unless negotiated.
    public var windowSize: Int
    /// The client's timeout in seconds, set only when it was accepted.
    public var timeoutSeconds: Int?
    /// The tsize value put in the OACK; nil when not requested or not accepted.
    public var transferSize: UInt64?
    /// Exactly what the OACK carries, in the client's order, canonical lowercase names and decimal values; empty means no OACK.
    public var acknowledgedOptions: [TFTPOption]
    /// Human-readable remarks for the log about options lowered or ignored.
    public var notes: [String]

    /// Creates a negotiated transfer; the defaults are RFC 1350's plain transfer with no OACK.
    public init(
        blockSize: Int = 512,
        windowSize: Int = 1,
        timeoutSeconds: Int? = nil,
        transferSize: UInt64? = nil,
        acknowledgedOptions: [TFTPOption] = [],
        notes: [String] = []
    ) {
        self.blockSize = blockSize
        self.windowSize = windowSize
        self.timeoutSeconds = timeoutSeconds
        self.transferSize = transferSize
        self.acknowledgedOptions = acknowledgedOptions
        self.notes = notes
    }

    /// True if the server must answer with an OACK (and wait for ACK 0) before DATA 1.
    public var sendsOptionAcknowledgement: Bool { !acknowledgedOptions.isEmpty }
}
