import Testing
import TFTPProtocol
import VolleyTestSupport

@Suite("Read transfer state machine")
struct ReadTransferStateMachineTests {
    private func machine(
        size: UInt64, blockSize: Int = 512, window: Int = 1, oack: Bool = false,
        policy: RetransmissionPolicy = RetransmissionPolicy()
    ) -> ReadTransferStateMachine {
        ReadTransferStateMachine(
            transferSize: size, blockSize: blockSize, windowSize: window, sendsOptionAcknowledgement: oack, retransmission: policy)
    }

    @Test func lockstepTransfer() {
        var m = machine(size: 1500)
        #expect(m.blockCount == 3)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.receiveAcknowledgement(2, now: 0) == .sendBlocks(first: 3, count: 1))
        #expect(m.byteRange(ofBlock: 3) == (1024, 476))
        #expect(m.receiveAcknowledgement(3, now: 0) == .finished(.delivered))
        #expect(m.highestAcknowledgedBlock == 3)
        #expect(m.isFinished)
        #expect(m.retransmissionCount == 0)
    }

    @Test func startIsOnlyActedOnOnce() {
        var m = machine(size: 10)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.start(now: 0) == .wait)
    }

    @Test func inputsBeforeStartAreIgnored() {
        var m = machine(size: 10)
        #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
        #expect(m.timerExpired(now: 0) == .wait)
        #expect(m.receive(.error(code: .notDefined, message: "x"), now: 0) == .wait)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
    }

    @Test func optionAcknowledgementThenAckZeroStartsData() {
        var m = machine(size: 5000, window: 4, oack: true)
        #expect(m.start(now: 0) == .sendOptionAcknowledgement)
        #expect(m.isAwaitingOptionAcknowledgementReply)
        #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
        #expect(m.receive(.data(block: 1, payload: []), now: 0) == .wait)
        #expect(m.receiveAcknowledgement(0, now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(!m.isAwaitingOptionAcknowledgementReply)
        #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
    }

    @Test func ackZeroWithoutOptionAcknowledgementIsIgnored() {
        var m = machine(size: 5000, window: 4)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
        #expect(m.highestAcknowledgedBlock == 0)
    }

    @Test func windowedTransfer() {
        var m = machine(size: 10_000, window: 8)
        #expect(m.blockCount == 20)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 8))
        #expect(m.receiveAcknowledgement(8, now: 0) == .sendBlocks(first: 9, count: 8))
        #expect(m.receiveAcknowledgement(16, now: 0) == .sendBlocks(first: 17, count: 4))
        #expect(m.receiveAcknowledgement(20, now: 0) == .finished(.delivered))
    }

    @Test func windowLargerThanFile() {
        var m = machine(size: 1100, window: 16)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 3))
        #expect(m.receiveAcknowledgement(3, now: 0) == .finished(.delivered))
    }

    @Test func ackInsideWindowResendsFromNextBlock() {
        var m = machine(size: 100_000, window: 8)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 8))
        #expect(m.receiveAcknowledgement(3, now: 0) == .sendBlocks(first: 4, count: 8))
        #expect(m.highestAcknowledgedBlock == 3)
        // A duplicate of the ACK just acted on, an older one, and one for a block never sent: all ignored.
        #expect(m.receiveAcknowledgement(3, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(2, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(12, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(11, now: 0) == .sendBlocks(first: 12, count: 8))
    }

    @Test func duplicateAcksNeverResend() {
        var m = machine(size: 100_000, window: 4)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(4, now: 0) == .sendBlocks(first: 5, count: 4))
        for _ in 0..<100 {
            #expect(m.receiveAcknowledgement(4, now: 0) == .wait)
        }
        #expect(m.retransmissionCount == 0)
        #expect(m.receiveAcknowledgement(8, now: 0) == .sendBlocks(first: 9, count: 4))
    }

    @Test func staleAndGarbageAcksAreIgnored() {
        var m = machine(size: 100_000)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(2, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(65535, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
        #expect(m.receive(.acknowledgement(block: 0), now: 0) == .wait)
        #expect(m.receive(.readRequest(TFTPRequest(filename: "f", mode: "octet")), now: 0) == .wait)
        #expect(m.receive(.optionAcknowledgement([]), now: 0) == .wait)
        #expect(m.highestAcknowledgedBlock == 1)
    }

    @Test func wireBlockNumbersRollOver() {
        #expect(ReadTransferStateMachine.wireBlockNumber(0) == 0)
        #expect(ReadTransferStateMachine.wireBlockNumber(65535) == 65535)
        #expect(ReadTransferStateMachine.wireBlockNumber(65536) == 0)
        #expect(ReadTransferStateMachine.wireBlockNumber(65537) == 1)
        #expect(ReadTransferStateMachine.wireBlockNumber(5 * 65536 + 7) == 7)
    }

    @Test func rolloverAcrossBlock65535WithWindow16() {
        // 70 000 blocks of 8 bytes: the window crossing 65535 -> 0 must map ACKs to the right absolute blocks.
        var m = machine(size: 69_999 * 8 + 3, blockSize: 8, window: 16)
        #expect(m.blockCount == 70_000)
        var action = m.start(now: 0)
        var windows = 0
        var crossed = false
        while case .sendBlocks(let first, let count) = action {
            let last = first + UInt64(count) - 1
            if first <= 65_535 && last >= 65_536 {
                crossed = true
                // Inside the straddling window: ACK for absolute 65535 (wire 65535), then for 65537 (wire 1).
                #expect(m.receiveAcknowledgement(65535, now: 0) == .sendBlocks(first: 65_536, count: 16))
                #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 65_538, count: 16))
                #expect(m.highestAcknowledgedBlock == 65_537)
                // Stale ACKs from before the rollover must not be mistaken for new ones.
                #expect(m.receiveAcknowledgement(65535, now: 0) == .wait)
                #expect(m.receiveAcknowledgement(65530, now: 0) == .wait)
                #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
                action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(65_537 + 16), now: 0)
                #expect(action == .sendBlocks(first: 65_554, count: 16))
                continue
            }
            action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(last), now: 0)
            windows += 1
        }
        #expect(action == .finished(.delivered))
        #expect(m.highestAcknowledgedBlock == 70_000)
        #expect(windows > 4_000)
        #expect(crossed)
        #expect(m.byteRange(ofBlock: 70_000) == (69_999 * 8, 3))
    }

    @Test func ackOfWireBlockZeroAfterWrap() {
        // Absolute block 65536 travels as wire block 0, which must not be confused with the OACK's ACK 0.
        var m = machine(size: 100_000 * 8, blockSize: 8, window: 16)
        var action = m.start(now: 0)
        while case .sendBlocks(let first, let count) = action, first + UInt64(count) - 1 < 65_535 {
            action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(first + UInt64(count) - 1), now: 0)
        }
        #expect(action == .sendBlocks(first: 65_521, count: 16))
        #expect(m.receiveAcknowledgement(65535, now: 0) == .sendBlocks(first: 65_536, count: 16))
        #expect(m.receiveAcknowledgement(0, now: 0) == .sendBlocks(first: 65_537, count: 16))
        #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(16, now: 0) == .sendBlocks(first: 65_553, count: 16))
    }

    @Test func windowIsCappedAt32767Blocks() {
        var m = machine(size: 1 << 20, blockSize: 8, window: 40_000)
        #expect(m.windowSize == 32767)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 32767))
        #expect(m.receiveAcknowledgement(32767, now: 0) == .sendBlocks(first: 32_768, count: 32767))
        #expect(machine(size: 10, window: Int.max).windowSize == 32767)
    }

    @Test func staleAckFrom32767BlocksBackIsIgnored() {
        // With a window of 32767 at most, a delayed ACK from up to 32768 blocks back cannot pass for a new one.
        var m = machine(size: 1 << 20, blockSize: 8, window: 40_000)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 32767))
        #expect(m.receiveAcknowledgement(32_768, now: 0) == .sendBlocks(first: 32_769, count: 32767))
        #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
        #expect(m.highestAcknowledgedBlock == 32_768)
        #expect(
            m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(32_768 + 32_767), now: 0)
                == .sendBlocks(first: 65_536, count: 32767))
        // Now 32768 blocks back (wire 32767) and the previous window's ACKs are stale too.
        #expect(m.receiveAcknowledgement(32_767, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(32_768, now: 0) == .wait)
        #expect(m.highestAcknowledgedBlock == 65_535)
    }

    @Test func timeoutsBackOffUpToTheCapThenGiveUp() {
        var m = machine(
            size: 100_000, window: 4,
            policy: RetransmissionPolicy(
                initialTimeoutMilliseconds: 1000, maximumTimeoutMilliseconds: 8000, maximumRetransmissions: 5))
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.currentTimeoutMilliseconds == 1000)
        var timeouts: [Int] = []
        for _ in 0..<5 {
            #expect(m.timerExpired(now: 0) == .sendBlocks(first: 1, count: 4))
            timeouts.append(m.currentTimeoutMilliseconds)
        }
        #expect(timeouts == [2000, 4000, 8000, 8000, 8000])
        #expect(m.retransmissionCount == 20)
        #expect(m.timerExpired(now: 0) == .finished(.timedOut(retransmissions: 5)))
        #expect(m.timerExpired(now: 0) == .wait)
        #expect(m.receiveAcknowledgement(4, now: 0) == .wait)
    }

    @Test func timeoutResendsUnacknowledgedWindowFromLastAck() {
        var m = machine(size: 5000, window: 4)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(2, now: 0) == .sendBlocks(first: 3, count: 4))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 3, count: 4))
        #expect(m.receiveAcknowledgement(6, now: 0) == .sendBlocks(first: 7, count: 4))
        #expect(m.receiveAcknowledgement(9, now: 0) == .sendBlocks(first: 10, count: 1))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 10, count: 1))
        #expect(m.retransmissionCount == 5)
    }

    @Test func progressResetsRetriesAndTimeout() {
        var m = machine(size: 100_000, policy: RetransmissionPolicy(maximumRetransmissions: 2))
        _ = m.start(now: 0)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.currentTimeoutMilliseconds == 4000)
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.currentTimeoutMilliseconds == 1000)
        // Two fresh retries are allowed again before giving up.
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.timerExpired(now: 0) == .finished(.timedOut(retransmissions: 2)))
        #expect(m.retransmissionCount == 4)
    }

    @Test func duplicateAckResetsRetriesButNotTheBackoff() {
        // It used to count for nothing; the client is still there, so the retries start over (ReadTransferTimingTests).
        var m = machine(size: 100_000, policy: RetransmissionPolicy(maximumRetransmissions: 1))
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.currentTimeoutMilliseconds == 50)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 0) == .wait)
        #expect(m.currentTimeoutMilliseconds == 100)
        // One silent timeout is the limit, but 100 ms of silence is not yet the 1 s + 2 s the policy allows:
        // re-sends go on, backing off, until the timeouts add up to 3 s.
        var resends = 0
        while m.timerExpired(now: 0) == .sendBlocks(first: 2, count: 1) { resends += 1 }
        #expect(resends == 4)  // after 100, 300, 700 and 1500 ms of silence; 3100 ms ends it
        #expect(m.isFinished)
    }

    @Test func zeroRetransmissionsGivesUpAtFirstTimeout() {
        var m = machine(size: 10, policy: RetransmissionPolicy(maximumRetransmissions: 0))
        _ = m.start(now: 0)
        #expect(m.timerExpired(now: 0) == .finished(.timedOut(retransmissions: 0)))
    }

    @Test func optionAcknowledgementIsRetransmittedWithBackoff() {
        var m = machine(
            size: 10, oack: true,
            policy: RetransmissionPolicy(
                initialTimeoutMilliseconds: 300, maximumTimeoutMilliseconds: 1000, maximumRetransmissions: 3))
        #expect(m.start(now: 0) == .sendOptionAcknowledgement)
        #expect(m.timerExpired(now: 0) == .sendOptionAcknowledgement)
        #expect(m.currentTimeoutMilliseconds == 600)
        #expect(m.timerExpired(now: 0) == .sendOptionAcknowledgement)
        #expect(m.currentTimeoutMilliseconds == 1000)
        #expect(m.receiveAcknowledgement(0, now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.currentTimeoutMilliseconds == 300)
        #expect(m.retransmissionCount == 2)
    }

    @Test func errorEightAfterOptionAcknowledgementIsASizeProbe() {
        var m = machine(size: 10, oack: true)
        _ = m.start(now: 0)
        #expect(m.receive(.error(code: .optionNegotiationFailed, message: "tsize probe"), now: 0) == .finished(.sizeProbe))
        #expect(m.receive(.acknowledgement(block: 0), now: 0) == .wait)
    }

    @Test func otherErrorAfterOptionAcknowledgementIsAnAbort() {
        var m = machine(size: 10, oack: true)
        _ = m.start(now: 0)
        #expect(
            m.receive(.error(code: .accessViolation, message: "no"), now: 0)
                == .finished(.abortedByClient(code: .accessViolation, message: "no")))
    }

    @Test func errorAfterDataIsAnAbortEvenWithCodeEight() {
        var m = machine(size: 10_000, oack: true)
        _ = m.start(now: 0)
        _ = m.receiveAcknowledgement(0, now: 0)
        #expect(
            m.receive(.error(code: .optionNegotiationFailed, message: "late"), now: 0)
                == .finished(.abortedByClient(code: .optionNegotiationFailed, message: "late")))

        var plain = machine(size: 10_000)
        _ = plain.start(now: 0)
        #expect(
            plain.receive(.error(code: .diskFull, message: "full"), now: 0) == .finished(.abortedByClient(code: .diskFull, message: "full"))
        )
        #expect(plain.timerExpired(now: 0) == .wait)
    }

    @Test func emptyFileIsOneEmptyBlock() {
        var m = machine(size: 0)
        #expect(m.blockCount == 1)
        #expect(m.byteRange(ofBlock: 1) == (0, 0))
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 0) == .finished(.delivered))
    }

    @Test func exactMultipleOfBlockSizeEndsWithAnEmptyBlock() {
        var m = machine(size: 1024, window: 8)
        #expect(m.blockCount == 3)
        #expect(m.byteRange(ofBlock: 2) == (512, 512))
        #expect(m.byteRange(ofBlock: 3) == (1024, 0))
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 3))
        #expect(m.receiveAcknowledgement(2, now: 0) == .sendBlocks(first: 3, count: 1))
        #expect(m.receiveAcknowledgement(3, now: 0) == .finished(.delivered))
    }

    @Test func fiveGibibyteTransfer() {
        let m = machine(size: 5 << 30, blockSize: 65464, window: 16)
        #expect(m.blockCount == 82_011)
        #expect(m.byteRange(ofBlock: 1) == (0, 65464))
        #expect(m.byteRange(ofBlock: 82_010) == (5_368_637_176, 65464))
        #expect(m.byteRange(ofBlock: 82_011) == (5_368_702_640, 6480))
        #expect(ReadTransferStateMachine.wireBlockNumber(82_011) == 16_475)
    }

    @Test func byteRangeOutsideTheFileIsEmpty() {
        let m = machine(size: 1000)
        #expect(m.byteRange(ofBlock: 0) == (0, 0))
        #expect(m.byteRange(ofBlock: 3) == (1000, 0))
        #expect(m.byteRange(ofBlock: UInt64.max) == (1000, 0))
    }

    @Test func degenerateParametersDoNotTrap() {
        var m = machine(
            size: UInt64.max, blockSize: 0, window: 0,
            policy: RetransmissionPolicy(
                initialTimeoutMilliseconds: 0, maximumTimeoutMilliseconds: -5, maximumRetransmissions: -1))
        #expect(m.blockCount == UInt64.max)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.currentTimeoutMilliseconds == 1)
        #expect(m.timerExpired(now: 0) == .finished(.timedOut(retransmissions: 0)))

        var big = machine(
            size: 10,
            policy: RetransmissionPolicy(
                initialTimeoutMilliseconds: Int.max / 2 + 1, maximumTimeoutMilliseconds: Int.max, maximumRetransmissions: 3))
        _ = big.start(now: 0)
        #expect(big.timerExpired(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(big.currentTimeoutMilliseconds == Int.max)
    }

    // MARK: Size learned while sending (netascii converted on the fly)

    private func streaming(
        blockSize: Int = 512, window: Int = 1, oack: Bool = false, policy: RetransmissionPolicy = RetransmissionPolicy()
    ) -> ReadTransferStateMachine {
        ReadTransferStateMachine(
            transferSize: nil, blockSize: blockSize, windowSize: window, sendsOptionAcknowledgement: oack, retransmission: policy)
    }

    @Test func unknownSizeLockstepEndsWhenTheSenderReportsTheLastBlock() {
        var m = streaming()
        #expect(m.transferSize == nil)
        #expect(m.blockCount == nil)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 2, count: 1))
        #expect(m.receiveAcknowledgement(2, now: 0) == .sendBlocks(first: 3, count: 1))
        // Block 3 came out short: the sender says so after sending it.
        #expect(m.endOfData(atBlock: 3) == true)
        #expect(m.blockCount == 3)
        #expect(m.receiveAcknowledgement(3, now: 0) == .finished(.delivered))
        #expect(m.isFinished)
        #expect(m.highestAcknowledgedBlock == 3)
    }

    @Test func unknownSizeAsksForFullWindowsAndClipsAtAnEndInsideOne() {
        var m = streaming(window: 4, oack: true)
        #expect(m.start(now: 0) == .sendOptionAcknowledgement)
        #expect(m.receiveAcknowledgement(0, now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.receiveAcknowledgement(4, now: 0) == .sendBlocks(first: 5, count: 4))
        // The sender produced 5 (full) and 6 (short), sent those two and reported the end.
        #expect(m.endOfData(atBlock: 6) == true)
        #expect(m.blockCount == 6)
        // Blocks 7 and 8 were never sent: ACKs for them are ignored.
        #expect(m.receiveAcknowledgement(7, now: 0) == .wait)
        #expect(m.receiveAcknowledgement(8, now: 0) == .wait)
        #expect(m.highestAcknowledgedBlock == 4)
        // The client lost block 6: the resend stops at the end.
        #expect(m.receiveAcknowledgement(5, now: 0) == .sendBlocks(first: 6, count: 1))
        #expect(m.receiveAcknowledgement(6, now: 0) == .finished(.delivered))
        #expect(m.receiveAcknowledgement(7, now: 0) == .wait)
    }

    @Test func unknownSizeEndingWithAnEmptyBlock() {
        // 1024 bytes in 512-byte blocks: blocks 1 and 2 are full, block 3 is empty and ends the transfer.
        var m = streaming(window: 4)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.endOfData(atBlock: 3) == true)
        #expect(m.receiveAcknowledgement(2, now: 0) == .sendBlocks(first: 3, count: 1))
        #expect(m.receiveAcknowledgement(3, now: 0) == .finished(.delivered))

        // An empty file: block 1 is empty.
        var empty = streaming(window: 4)
        #expect(empty.start(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(empty.endOfData(atBlock: 1) == true)
        #expect(empty.blockCount == 1)
        #expect(empty.receiveAcknowledgement(2, now: 0) == .wait)
        #expect(empty.receiveAcknowledgement(1, now: 0) == .finished(.delivered))
    }

    @Test func retransmissionAfterTheEndIsKnownStopsAtTheEnd() {
        var m = streaming(window: 8)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 8))
        #expect(m.endOfData(atBlock: 5) == true)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 1, count: 5))
        #expect(m.receiveAcknowledgement(3, now: 0) == .sendBlocks(first: 4, count: 2))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 4, count: 2))
        #expect(m.retransmissionCount == 7)
        #expect(m.receiveAcknowledgement(5, now: 0) == .finished(.delivered))
    }

    @Test func retransmissionBeforeTheEndIsKnownResendsTheFullWindow() {
        var m = streaming(window: 4)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(4, now: 0) == .sendBlocks(first: 5, count: 4))
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 5, count: 4))
        // The end may also be found while re-producing a window.
        #expect(m.endOfData(atBlock: 7) == true)
        #expect(m.receiveAcknowledgement(8, now: 0) == .wait)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 5, count: 3))
        #expect(m.receiveAcknowledgement(7, now: 0) == .finished(.delivered))
        #expect(m.retransmissionCount == 7)
    }

    @Test func endOfDataCallsThatMakeNoSenseAreIgnored() {
        var m = streaming(window: 4)
        #expect(m.endOfData(atBlock: 0) == false)
        #expect(m.blockCount == nil)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(3, now: 0) == .sendBlocks(first: 4, count: 4))
        // At or below the acknowledged block.
        #expect(m.endOfData(atBlock: 3) == false)
        #expect(m.endOfData(atBlock: 1) == false)
        #expect(m.blockCount == nil)
        #expect(m.endOfData(atBlock: 6) == true)
        // A second, different end; the same end again is harmless.
        #expect(m.endOfData(atBlock: 7) == false)
        #expect(m.endOfData(atBlock: 5) == false)
        #expect(m.endOfData(atBlock: 6) == true)
        #expect(m.blockCount == 6)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 4, count: 3))
        #expect(m.receiveAcknowledgement(6, now: 0) == .finished(.delivered))
        // After the end of the transfer.
        #expect(m.endOfData(atBlock: 6) == false)
        #expect(m.endOfData(atBlock: 9) == false)
        #expect(m.receiveAcknowledgement(6, now: 0) == .wait)

        // A known size wins over anything the sender reports.
        var known = machine(size: 1500, window: 4)
        _ = known.start(now: 0)
        #expect(known.endOfData(atBlock: 2) == false)
        #expect(known.endOfData(atBlock: 4) == false)
        #expect(known.endOfData(atBlock: 3) == true)
        #expect(known.blockCount == 3)
        #expect(known.receiveAcknowledgement(3, now: 0) == .finished(.delivered))
    }

    @Test func unknownSizeWindowsAreCappedToo() {
        var m = streaming(blockSize: 8, window: 40_000)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 32767))
    }

    @Test func unknownSizeRollsOverPast65535() {
        // 70 000 blocks of 8 bytes, the end found by the sender inside a window.
        let end: UInt64 = 70_000
        var m = streaming(blockSize: 8, window: 16)
        var action = m.start(now: 0)
        var crossed = false
        while case .sendBlocks(let first, let count) = action {
            #expect(count == 16 || m.blockCount != nil)
            var last = first + UInt64(count) - 1
            if last >= end {
                #expect(m.endOfData(atBlock: end) == true)
                last = end
            }
            if first <= 65_535 && last >= 65_536 {
                crossed = true
                // ACK for absolute 65535 (wire 65535), then for 65537 (wire 1); the stale ones after it are ignored.
                #expect(m.receiveAcknowledgement(65535, now: 0) == .sendBlocks(first: 65_536, count: 16))
                #expect(m.receiveAcknowledgement(1, now: 0) == .sendBlocks(first: 65_538, count: 16))
                #expect(m.receiveAcknowledgement(65535, now: 0) == .wait)
                #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
                #expect(m.highestAcknowledgedBlock == 65_537)
                action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(65_537 + 16), now: 0)
                continue
            }
            action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(last), now: 0)
        }
        #expect(action == .finished(.delivered))
        #expect(crossed)
        #expect(m.blockCount == end)
        #expect(m.highestAcknowledgedBlock == end)
    }

    @Test func byteRangeWithUnknownSizeIsNominal() {
        var m = streaming(window: 4)
        #expect(m.byteRange(ofBlock: 0) == (0, 0))
        #expect(m.byteRange(ofBlock: 1) == (0, 512))
        #expect(m.byteRange(ofBlock: 100_000) == (99_999 * 512, 512))
        #expect(m.byteRange(ofBlock: UInt64.max) == (0, 0))
        _ = m.start(now: 0)
        m.endOfData(atBlock: 3)
        #expect(m.byteRange(ofBlock: 3) == (1024, 512))
        #expect(m.byteRange(ofBlock: 4) == (0, 0))
    }

    @Test func unknownSizeBehavesLikeTheKnownSizeOnceTheSenderReportsTheEnd() {
        // Random transfers driven twice, by size and by a sender that reports the end the first time it produces
        // the last block, on the same clock: the blocks actually sent, the outcome, every counter and the
        // round-trip estimate must be the same.
        var random = SplitMix64(seed: 0x5EED_7F7F)
        var delivered = 0
        for _ in 0..<300 {
            let blockSize = Int.random(in: 1...32, using: &random)
            let size = UInt64.random(in: 0...2_000, using: &random)
            let window = Int.random(in: 1...8, using: &random)
            let oack = Bool.random(using: &random)
            let policy = RetransmissionPolicy(initialTimeoutMilliseconds: 10, maximumTimeoutMilliseconds: 80, maximumRetransmissions: 4)
            var known = machine(size: size, blockSize: blockSize, window: window, oack: oack, policy: policy)
            var stream = streaming(blockSize: blockSize, window: window, oack: oack, policy: policy)
            let end = size / UInt64(blockSize) + 1

            /// What the streaming sender really sends for an action, reporting the end when it reaches it.
            func sent(_ action: ReadTransferAction) -> ReadTransferAction {
                guard case .sendBlocks(let first, let count) = action else { return action }
                let last = first + UInt64(count) - 1
                guard last >= end else { return action }
                #expect(stream.endOfData(atBlock: end) == true)
                return .sendBlocks(first: first, count: Int(end - first + 1))
            }

            var now = UInt64.random(in: 0...1_000_000, using: &random)
            #expect(sent(stream.start(now: now)) == known.start(now: now))
            var steps = 0
            while !known.isFinished, steps < 2_000 {
                steps += 1
                now += UInt64.random(in: 0...40, using: &random)
                let expected: ReadTransferAction
                let actual: ReadTransferAction
                switch Int.random(in: 0..<200, using: &random) {
                case 0..<150:
                    let wire = ReadTransferStateMachine.wireBlockNumber(
                        known.highestAcknowledgedBlock &+ UInt64.random(in: 0...UInt64(window + 2), using: &random) &- 1)
                    expected = known.receiveAcknowledgement(wire, now: now)
                    actual = sent(stream.receiveAcknowledgement(wire, now: now))
                case 150..<199:
                    expected = known.timerExpired(now: now)
                    actual = sent(stream.timerExpired(now: now))
                default:
                    let error = TFTPPacket.error(code: .optionNegotiationFailed, message: "")
                    expected = known.receive(error, now: now)
                    actual = sent(stream.receive(error, now: now))
                }
                #expect(actual == expected)
                #expect(stream.highestAcknowledgedBlock == known.highestAcknowledgedBlock)
                #expect(stream.retransmissionCount == known.retransmissionCount)
                #expect(stream.currentTimeoutMilliseconds == known.currentTimeoutMilliseconds)
                #expect(stream.retransmissionTimeoutMilliseconds == known.retransmissionTimeoutMilliseconds)
                #expect(stream.roundTrip == known.roundTrip)
                #expect(stream.isFinished == known.isFinished)
                #expect(stream.blockCount == nil || stream.blockCount == known.blockCount)
                if actual == .finished(.delivered) { delivered += 1 }
            }
        }
        #expect(delivered >= 100)
    }
}
