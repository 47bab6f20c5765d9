/// The sender side of one read transfer (RFC 1350, RFC 2347 OACK, RFC 7440 windows), without I/O or clocks.
///
/// The server sends what the actions say, arms one timer with `currentTimeoutMilliseconds` after each send,
/// and feeds back ACKs, ERRORs and timer expiries. Only a timeout ever re-sends: a duplicate ACK never does
/// (the Sorcerer's Apprentice bug).
///
/// The size may be unknown at the start (netascii converted while sending): then the machine asks for full
/// windows until the sender reports the last block with `endOfData(atBlock:)`.
public struct ReadTransferStateMachine: Sendable {
    private enum Phase: Sendable {
        case idle
        case awaitingOptionAcknowledgementReply
        case sending
        case finished
    }

    /// Bytes the client receives in total (after netascii conversion); nil when the sender learns it while sending.
    public let transferSize: UInt64?
    /// Payload bytes per full block.
    public let blockSize: Int
    /// Blocks sent before waiting for an ACK (1...32767).
    public let windowSize: Int
    /// The timeouts and retry bound in use.
    public let retransmission: RetransmissionPolicy
    /// The number of the last block: transferSize / blockSize + 1 (last block short, possibly empty; empty file =
    /// one empty block). Nil while the size is unknown, set by `endOfData(atBlock:)`.
    public var blockCount: UInt64? { isEndKnown ? lastBlock : nil }

    /// The last block, or UInt64.max while it is unknown.
    private var lastBlock: UInt64
    private var isEndKnown: Bool
    private let sendsOptionAcknowledgement: Bool
    private var phase = Phase.idle
    /// Highest absolute block the client acknowledged; 0 before any.
    private var acked: UInt64 = 0
    /// Highest absolute block sent so far.
    private var sentUpTo: UInt64 = 0
    private var consecutiveRetransmissions = 0

    /// What to arm the timer with after a send action.
    public private(set) var currentTimeoutMilliseconds: Int
    /// Total blocks and OACKs re-sent so far (for statistics).
    public private(set) var retransmissionCount = 0

    /// Creates the machine; call `start()` next. A nil `transferSize` means the sender reports the end
    /// with `endOfData(atBlock:)` when it produces the last (short or empty) block.
    public init(
        transferSize: UInt64?,
        blockSize: Int,
        windowSize: Int,
        sendsOptionAcknowledgement: Bool,
        retransmission: RetransmissionPolicy
    ) {
        self.transferSize = transferSize
        // Defensive clamps: a zero block size would divide by zero, and larger windows make stale ACKs ambiguous.
        self.blockSize = max(blockSize, 1)
        let windows = NegotiationLimits.windowSizeRange
        self.windowSize = min(max(windowSize, windows.lowerBound), windows.upperBound)
        self.sendsOptionAcknowledgement = sendsOptionAcknowledgement
        var policy = retransmission
        policy.initialTimeoutMilliseconds = max(policy.initialTimeoutMilliseconds, 1)
        policy.maximumTimeoutMilliseconds = max(policy.maximumTimeoutMilliseconds, policy.initialTimeoutMilliseconds)
        policy.maximumRetransmissions = max(policy.maximumRetransmissions, 0)
        self.retransmission = policy
        self.currentTimeoutMilliseconds = policy.initialTimeoutMilliseconds
        if let transferSize {
            let (count, overflow) = (transferSize / UInt64(self.blockSize)).addingReportingOverflow(1)
            self.lastBlock = overflow ? UInt64.max : count
            self.isEndKnown = true
        } else {
            self.lastBlock = UInt64.max
            self.isEndKnown = false
        }
    }

    /// The range of the transferred bytes block `block` carries (64-bit offsets); blocks outside 1...blockCount
    /// have length 0. Exact only when `transferSize` is known; with an unknown size every block that may exist
    /// gets its nominal range (the offset is exact, the length is `blockSize`, an upper bound for the last block)
    /// and any other block (0, 0).
    public func byteRange(ofBlock block: UInt64) -> (offset: UInt64, length: Int) {
        guard block >= 1 else { return (0, 0) }
        guard let transferSize else {
            let (offset, overflow) = (block - 1).multipliedReportingOverflow(by: UInt64(blockSize))
            guard !overflow, block <= lastBlock else { return (0, 0) }
            return (offset, blockSize)
        }
        let (offset, overflow) = (block - 1).multipliedReportingOverflow(by: UInt64(blockSize))
        guard !overflow, offset < transferSize else { return (overflow ? transferSize : min(offset, transferSize), 0) }
        return (offset, Int(min(UInt64(blockSize), transferSize - offset)))
    }

    /// The 16-bit number block `block` carries on the wire: truncating, so it rolls over 65535 -> 0.
    public static func wireBlockNumber(_ block: UInt64) -> UInt16 {
        UInt16(truncatingIfNeeded: block)
    }

    /// The highest absolute block the client has acknowledged (0 before any).
    public var highestAcknowledgedBlock: UInt64 { acked }

    /// True after the OACK went out and before ACK 0 (or an ERROR) came back.
    public var isAwaitingOptionAcknowledgementReply: Bool { phase == .awaitingOptionAcknowledgementReply }

    /// True once a `.finished` action was returned; every later input answers `.wait`.
    public var isFinished: Bool { phase == .finished }

    /// Tells the machine that block `block` is the last one (it came out short or empty): no block beyond it is
    /// asked for again, ACKs beyond it are ignored, and its ACK finishes the transfer with `.delivered`.
    /// Returns false and changes nothing when the call makes no sense: block 0, a block already acknowledged,
    /// an end other than one already known (a known size always wins), or a finished transfer.
    @discardableResult
    public mutating func endOfData(atBlock block: UInt64) -> Bool {
        if isEndKnown { return block == lastBlock && phase != .finished }
        guard block >= 1, block > acked, phase != .finished else { return false }
        lastBlock = block
        isEndKnown = true
        sentUpTo = min(sentUpTo, block)
        return true
    }

    /// Begins the transfer: `.sendOptionAcknowledgement` or the first window of DATA.
    public mutating func start() -> ReadTransferAction {
        guard phase == .idle else { return .wait }
        if sendsOptionAcknowledgement {
            phase = .awaitingOptionAcknowledgementReply
            return .sendOptionAcknowledgement
        }
        phase = .sending
        return sendWindow(after: 0)
    }

    /// Handles an ACK carrying the 16-bit block number `wireBlock`.
    public mutating func receiveAcknowledgement(_ wireBlock: UInt16) -> ReadTransferAction {
        switch phase {
        case .idle, .finished:
            return .wait
        case .awaitingOptionAcknowledgementReply:
            guard wireBlock == 0 else { return .wait }
            phase = .sending
            resetRetransmissionState()
            return sendWindow(after: 0)
        case .sending:
            // The unique absolute block in [acked, sentUpTo] with these low 16 bits. A window spans at most 32767
            // blocks, so an ACK from up to 32768 blocks back lands beyond sentUpTo and is ignored as stale.
            let distance = UInt64(wireBlock &- UInt16(truncatingIfNeeded: acked))
            let (block, overflow) = acked.addingReportingOverflow(distance)
            // distance 0 is a duplicate of an ACK already acted on; beyond sentUpTo is stale or garbage.
            guard !overflow, distance > 0, block <= sentUpTo else { return .wait }
            acked = block
            resetRetransmissionState()
            if block >= lastBlock {
                phase = .finished
                return .finished(.delivered)
            }
            // RFC 7440 §4: an ACK inside the window means the client lost k+1; the whole window means "next".
            return sendWindow(after: block)
        }
    }

    /// Handles any decoded packet from the client: ACK or ERROR end up here, anything else is ignored.
    public mutating func receive(_ packet: TFTPPacket) -> ReadTransferAction {
        switch packet {
        case .acknowledgement(let block):
            return receiveAcknowledgement(block)
        case .error(let code, let message):
            switch phase {
            case .idle, .finished:
                return .wait
            case .awaitingOptionAcknowledgementReply where code == .optionNegotiationFailed:
                phase = .finished
                return .finished(.sizeProbe)
            case .awaitingOptionAcknowledgementReply, .sending:
                phase = .finished
                return .finished(.abortedByClient(code: code, message: message))
            }
        case .readRequest, .writeRequest, .data, .optionAcknowledgement:
            return .wait
        }
    }

    /// Handles the armed timer firing: re-send what is unacknowledged with a doubled timeout, or give up.
    public mutating func timerExpired() -> ReadTransferAction {
        switch phase {
        case .idle, .finished:
            return .wait
        case .awaitingOptionAcknowledgementReply, .sending:
            guard consecutiveRetransmissions < retransmission.maximumRetransmissions else {
                phase = .finished
                return .finished(.timedOut(retransmissions: consecutiveRetransmissions))
            }
            consecutiveRetransmissions += 1
            let doubled = currentTimeoutMilliseconds.multipliedReportingOverflow(by: 2)
            currentTimeoutMilliseconds = doubled.overflow
                ? retransmission.maximumTimeoutMilliseconds
                : min(doubled.partialValue, retransmission.maximumTimeoutMilliseconds)
            if phase == .awaitingOptionAcknowledgementReply {
                retransmissionCount += 1
                return .sendOptionAcknowledgement
            }
            let action = sendWindow(after: acked)
            if case .sendBlocks(_, let count) = action { retransmissionCount += count }
            return action
        }
    }

    /// Sends blocks block+1 ... up to a window or the last block (a full window while the end is unknown).
    private mutating func sendWindow(after block: UInt64) -> ReadTransferAction {
        let count = Int(min(UInt64(windowSize), lastBlock - block))
        sentUpTo = max(sentUpTo, block + UInt64(count))
        return .sendBlocks(first: block + 1, count: count)
    }

    private mutating func resetRetransmissionState() {
        consecutiveRetransmissions = 0
        currentTimeoutMilliseconds = retransmission.initialTimeoutMilliseconds
    }
}
