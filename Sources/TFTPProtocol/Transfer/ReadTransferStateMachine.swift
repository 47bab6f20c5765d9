/// The sender side of one read transfer (RFC 1350, RFC 2347 OACK, RFC 7440 windows), without I/O or clocks.
///
/// The server passes its loop's time in (monotonic milliseconds) with every input, sends what the actions say,
/// arms one timer with `currentTimeoutMilliseconds` after each send, and feeds back ACKs, ERRORs and timer expiries.
///
/// Timeouts: adaptive policies measure the round trip (RFC 6298 with Karn's rule, see `receiveAcknowledgement`)
/// and set `retransmissionTimeoutMilliseconds` from it; fixed ones (negotiated `timeout`) keep the initial value.
/// Each timeout re-sends what is unacknowledged and doubles `currentTimeoutMilliseconds` up to the ceiling;
/// progress brings it back to `retransmissionTimeoutMilliseconds`.
///
/// Duplicate ACKs (the Sorcerer's Apprentice bug): an ACK that acknowledges nothing new re-sends the unacknowledged
/// window only when nothing went out for a whole `retransmissionTimeoutMilliseconds` (the client's own timer fired
/// before ours: it lost our DATA); otherwise it is ignored. So duplicates cost at most one window per timeout period.
///
/// Any datagram from the client, even a duplicate or stale ACK, shows it is still there: the transfer ends with
/// `.timedOut` only after `maximumRetransmissions` timeouts in a row without one, which moreover add up to the
/// policy's `silenceLimitMilliseconds` (a measured round trip makes re-sends sooner, never the giving up).
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
    /// Timeouts in a row without any datagram from the client, and how long they were armed for in total.
    private var consecutiveRetransmissions = 0
    private var silentMilliseconds = 0
    private let silenceLimitMilliseconds: Int
    /// The block whose ACK gives the next round-trip sample (0: the OACK), sent once at `timedSendTime`;
    /// nil when nothing is being timed (Karn: a re-sent block gives no sample).
    private var timedBlock: UInt64?
    private var timedSendTime: UInt64 = 0
    /// When the last OACK or DATA went out, first sends and re-sends alike.
    private var lastSendTime: UInt64 = 0

    /// What to arm the timer with after a send action: `retransmissionTimeoutMilliseconds`, doubled by each
    /// timeout in a row up to the policy's maximum.
    public private(set) var currentTimeoutMilliseconds: Int
    /// The retransmission timeout without backoff: the round-trip estimate kept within the policy's
    /// `adaptiveTimeoutRange` once measured, the policy's initial timeout before that or when it is fixed.
    /// It paces the re-sends that duplicate ACKs may trigger.
    public private(set) var retransmissionTimeoutMilliseconds: Int
    /// The round-trip measurements so far (adaptive policies only).
    public private(set) var roundTrip = RoundTripEstimator()
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
        self.retransmissionTimeoutMilliseconds = policy.initialTimeoutMilliseconds
        self.silenceLimitMilliseconds = policy.silenceLimitMilliseconds
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
        // The sender found the end inside the window it is sending now, so the end block leaves with the block
        // that was timed: its ACK gives the sample instead.
        if let timed = timedBlock, timed > block { timedBlock = block }
        return true
    }

    /// Begins the transfer at time `now`: `.sendOptionAcknowledgement` or the first window of DATA.
    public mutating func start(now: UInt64) -> ReadTransferAction {
        guard phase == .idle else { return .wait }
        if sendsOptionAcknowledgement {
            phase = .awaitingOptionAcknowledgementReply
            // The OACK's round trip (to ACK 0) is a sample like any other.
            timedBlock = 0
            timedSendTime = now
            lastSendTime = now
            return .sendOptionAcknowledgement
        }
        phase = .sending
        return sendWindow(after: 0, now: now)
    }

    /// Handles an ACK carrying the 16-bit block number `wireBlock`, arrived at `now`.
    ///
    /// An ACK for new blocks is progress: the window after it goes out (RFC 7440 §4: an ACK inside the window
    /// means the client lost the block after it, so sending resumes there) and the timeout returns to
    /// `retransmissionTimeoutMilliseconds`. A duplicate of the highest ACK re-sends the window after it only when
    /// nothing went out for `retransmissionTimeoutMilliseconds`. Older ACKs and ACKs for blocks never sent are
    /// ignored, but like every datagram from the client they reset the count of silent timeouts.
    ///
    /// Round-trip samples (adaptive policies) come from the last block of a window, timed from the send that
    /// put it on the wire first to the first ACK that covers it. A window leaves in one burst, so its first and
    /// last blocks leave at the same loop time; timing the last one means only an ACK for the whole window makes
    /// a sample, while an ACK inside the window, which clients often send only after their own timer expired,
    /// does not inflate the estimate. Karn's rule: a window whose last block was sent before (a re-send) is not
    /// timed, and a re-send of the timed block cancels its sample.
    public mutating func receiveAcknowledgement(_ wireBlock: UInt16, now: UInt64) -> ReadTransferAction {
        switch phase {
        case .idle, .finished:
            return .wait
        case .awaitingOptionAcknowledgementReply:
            heardFromClient()
            guard wireBlock == 0 else { return .wait }
            phase = .sending
            measureRoundTrip(acknowledging: 0, now: now)
            madeProgress()
            return sendWindow(after: 0, now: now)
        case .sending:
            heardFromClient()
            // The unique absolute block in [acked, sentUpTo] with these low 16 bits. A window spans at most 32767
            // blocks, so an ACK from up to 32768 blocks back lands beyond sentUpTo and is ignored as stale.
            let distance = UInt64(wireBlock &- UInt16(truncatingIfNeeded: acked))
            if distance == 0 {
                // ACK 0 without an OACK duplicates nothing the client said before.
                guard acked > 0 || sendsOptionAcknowledgement else { return .wait }
                return answerDuplicateAcknowledgement(now: now)
            }
            let (block, overflow) = acked.addingReportingOverflow(distance)
            // Beyond sentUpTo is stale or garbage.
            guard !overflow, block <= sentUpTo else { return .wait }
            acked = block
            measureRoundTrip(acknowledging: block, now: now)
            madeProgress()
            if block >= lastBlock {
                phase = .finished
                return .finished(.delivered)
            }
            return sendWindow(after: block, now: now)
        }
    }

    /// Handles any decoded packet from the client, arrived at `now`: ACK or ERROR end up here; anything else
    /// changes nothing but shows the client is still there.
    public mutating func receive(_ packet: TFTPPacket, now: UInt64) -> ReadTransferAction {
        switch packet {
        case .acknowledgement(let block):
            return receiveAcknowledgement(block, now: now)
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
            if phase == .awaitingOptionAcknowledgementReply || phase == .sending { heardFromClient() }
            return .wait
        }
    }

    /// Handles the armed timer (armed with `currentTimeoutMilliseconds`) firing at `now`: re-send what is
    /// unacknowledged with a doubled timeout, or give up once the client has been silent through
    /// `maximumRetransmissions` timeouts in a row that add up to the policy's `silenceLimitMilliseconds`.
    public mutating func timerExpired(now: UInt64) -> ReadTransferAction {
        switch phase {
        case .idle, .finished:
            return .wait
        case .awaitingOptionAcknowledgementReply, .sending:
            let (silent, overflow) = silentMilliseconds.addingReportingOverflow(currentTimeoutMilliseconds)
            silentMilliseconds = overflow ? Int.max : silent
            guard
                consecutiveRetransmissions < retransmission.maximumRetransmissions
                    || silentMilliseconds < silenceLimitMilliseconds
            else {
                phase = .finished
                return .finished(.timedOut(retransmissions: consecutiveRetransmissions))
            }
            consecutiveRetransmissions += 1
            let doubled = currentTimeoutMilliseconds.multipliedReportingOverflow(by: 2)
            currentTimeoutMilliseconds =
                doubled.overflow
                ? retransmission.maximumTimeoutMilliseconds
                : min(doubled.partialValue, retransmission.maximumTimeoutMilliseconds)
            if phase == .awaitingOptionAcknowledgementReply {
                retransmissionCount += 1
                timedBlock = nil
                lastSendTime = now
                return .sendOptionAcknowledgement
            }
            return resendWindow(now: now)
        }
    }

    /// A duplicate of the highest ACK: the client's timer fired, so it probably lost what we sent after that
    /// block. Re-send it once, unless something went out within the last retransmission timeout (then this
    /// duplicate answers that, or the re-send is still on its way).
    private mutating func answerDuplicateAcknowledgement(now: UInt64) -> ReadTransferAction {
        let elapsed = now >= lastSendTime ? now - lastSendTime : 0
        guard elapsed >= UInt64(retransmissionTimeoutMilliseconds) else { return .wait }
        return resendWindow(now: now)
    }

    /// Re-sends the window after the highest ACK (timeouts and duplicate ACKs), counting it for statistics.
    private mutating func resendWindow(now: UInt64) -> ReadTransferAction {
        let action = sendWindow(after: acked, now: now)
        if case .sendBlocks(_, let count) = action { retransmissionCount += count }
        return action
    }

    /// Sends blocks block+1 ... up to a window or the last block (a full window while the end is unknown), timing
    /// the window's last block when this is its first send.
    private mutating func sendWindow(after block: UInt64, now: UInt64) -> ReadTransferAction {
        let count = Int(min(UInt64(windowSize), lastBlock - block))
        let last = block + UInt64(count)
        if last > sentUpTo {
            timedBlock = last
            timedSendTime = now
        } else {
            // Karn: the last block (and with it the timed block, never beyond it) goes out again.
            timedBlock = nil
        }
        sentUpTo = max(sentUpTo, last)
        lastSendTime = now
        return .sendBlocks(first: block + 1, count: count)
    }

    /// Takes a round-trip sample if `block` covers the timed block (adaptive policies only) and sets the
    /// retransmission timeout from the estimate.
    private mutating func measureRoundTrip(acknowledging block: UInt64, now: UInt64) {
        guard let timed = timedBlock, block >= timed else { return }
        timedBlock = nil
        guard retransmission.isAdaptive else { return }
        roundTrip.addSample(milliseconds: now >= timedSendTime ? now - timedSendTime : 0)
        if let estimate = roundTrip.timeoutMilliseconds(
            clockGranularityMilliseconds: RetransmissionPolicy.clockGranularityMilliseconds
        ) {
            let range = retransmission.adaptiveTimeoutRange
            retransmissionTimeoutMilliseconds = min(max(estimate, range.lowerBound), range.upperBound)
        }
    }

    /// A datagram came from the client: it is still there, the count of silent timeouts starts over.
    private mutating func heardFromClient() {
        consecutiveRetransmissions = 0
        silentMilliseconds = 0
    }

    /// The client acknowledged something new: the backoff starts over too.
    private mutating func madeProgress() {
        heardFromClient()
        currentTimeoutMilliseconds = retransmissionTimeoutMilliseconds
    }
}
