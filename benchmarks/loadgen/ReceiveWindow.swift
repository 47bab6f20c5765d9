/// The receiving side of a TFTP read (RFC 1350, RFC 7440 client): which DATA block comes next,
/// when to ACK, and what to do on gaps, duplicates and 16-bit block-number rollover. No I/O.
struct ReceiveWindow {
    /// Blocks the server sends per window (1: lockstep).
    var windowSize: Int
    /// The absolute (64-bit) number of the block expected next; block 1 is the first.
    private(set) var nextBlock: UInt64 = 1
    /// The absolute block number of the last ACK sent (0: the ACK of the OACK, or nothing yet).
    private(set) var lastAcknowledged: UInt64 = 0
    /// In-order blocks accepted since the last ACK.
    private(set) var sinceAcknowledgement = 0
    /// `nextBlock` when the last gap ACK was sent (0: none), so each gap is ACKed once.
    private var gapAcknowledgedAt: UInt64 = 0

    init(windowSize: Int) {
        self.windowSize = max(1, windowSize)
    }

    /// What an arriving DATA block is, relative to what is expected.
    enum Arrival: Equatable {
        /// The block expected next, with its absolute number.
        case next(UInt64)
        /// A block already received (a server retransmission or a duplicate).
        case old
        /// A block beyond the next one: something was lost in between.
        case ahead
    }

    /// Classifies a DATA block by its wire number, unwrapping rollover past 65535 (wraps to 0).
    func classify(wireBlock: UInt16) -> Arrival {
        let expected = UInt16(truncatingIfNeeded: nextBlock)
        let distance = Int16(bitPattern: wireBlock &- expected)
        if distance == 0 { return .next(nextBlock) }
        return distance < 0 ? .old : .ahead
    }

    /// Accepts the expected block (after it was verified); returns the block to ACK now, if any:
    /// the last block of a full window, or the final (short) block.
    mutating func accept(isFinal: Bool) -> UInt64? {
        let block = nextBlock
        nextBlock += 1
        sinceAcknowledgement += 1
        guard isFinal || sinceAcknowledgement >= windowSize else { return nil }
        acknowledge(block)
        return block
    }

    /// A block arrived ahead of a gap: returns the last in-order block to ACK (RFC 7440 §4), once per
    /// gap; nil when this gap was already ACKed and the server has not filled it yet.
    mutating func gap() -> UInt64? {
        guard gapAcknowledgedAt != nextBlock else { return nil }
        gapAcknowledgedAt = nextBlock
        let lastInOrder = nextBlock - 1
        acknowledge(lastInOrder)
        return lastInOrder
    }

    /// Records that the OACK was acknowledged with ACK 0.
    mutating func acknowledgeOptions() {
        acknowledge(0)
    }

    private mutating func acknowledge(_ block: UInt64) {
        lastAcknowledged = block
        sinceAcknowledgement = 0
    }
}
