import Testing
import TFTPProtocol
import VolleyTestSupport

/// Timing of read transfers: the round-trip estimate (RFC 6298, Karn), negotiated fixed timeouts, duplicate ACKs
/// answered at most once per timeout period, and a transfer that ends only when the client has been silent.
@Suite("Read transfer timing")
struct ReadTransferTimingTests {
    private func machine(
        size: UInt64? = 1_000_000, blockSize: Int = 512, window: Int = 1, oack: Bool = false,
        policy: RetransmissionPolicy = RetransmissionPolicy()
    ) -> ReadTransferStateMachine {
        ReadTransferStateMachine(
            transferSize: size, blockSize: blockSize, windowSize: window, sendsOptionAcknowledgement: oack, retransmission: policy)
    }

    /// Runs a lock-step transfer for `rounds` blocks, each ACK arriving `roundTrip(i)` ms after its DATA;
    /// returns the retransmission timeout after each round and the time reached.
    private func lockstep(
        _ m: inout ReadTransferStateMachine, rounds: Int, from start: UInt64 = 0, roundTrip: (Int) -> UInt64
    ) -> (timeouts: [Int], now: UInt64) {
        var now = start
        var timeouts: [Int] = []
        for i in 0..<rounds {
            now += roundTrip(i)
            let next = m.highestAcknowledgedBlock + 1
            #expect(
                m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(next), now: now) == .sendBlocks(first: next + 1, count: 1)
            )
            timeouts.append(m.retransmissionTimeoutMilliseconds)
            #expect(m.currentTimeoutMilliseconds == m.retransmissionTimeoutMilliseconds)
        }
        return (timeouts, now)
    }

    // MARK: The retransmission timeout follows the round trip

    @Test func timeoutConvergesToTheFloorOnASubMillisecondLink() {
        var m = machine()
        #expect(m.start(now: 1_000) == .sendBlocks(first: 1, count: 1))
        // Before any measurement: the configured timeout.
        #expect(m.currentTimeoutMilliseconds == 1000 && m.retransmissionTimeoutMilliseconds == 1000)
        // Loopback: ACKs within the same millisecond, sometimes the next one.
        let (timeouts, _) = lockstep(&m, rounds: 50, from: 1_000) { $0 % 3 == 0 ? 1 : 0 }
        #expect(timeouts.allSatisfy { $0 == RetransmissionPolicy.minimumAdaptiveTimeoutMilliseconds }, "\(timeouts)")
        #expect(m.roundTrip.sampleCount == 50)
        #expect(m.retransmissionCount == 0)
        // A timeout now costs 50 ms, doubling from there.
        #expect(m.timerExpired(now: 2_000) == .sendBlocks(first: 51, count: 1))
        #expect(m.currentTimeoutMilliseconds == 100)
    }

    @Test func timeoutGrowsWithASlowLinkUpToTheCeiling() {
        var m = machine()
        _ = m.start(now: 0)
        // 300 ms round trips: RTO = 300 + 4 * 150 = 900 after the first, then down towards SRTT + G.
        let (steady, now) = lockstep(&m, rounds: 40) { _ in 300 }
        #expect(steady.first == 900)
        #expect(steady == steady.sorted(by: >), "\(steady)")
        #expect(steady.last! > 300 && steady.last! < 320, "\(steady)")
        // Jitter between 100 and 700 ms keeps it well above the mean.
        let (jittery, later) = lockstep(&m, rounds: 40, from: now) { $0 % 2 == 0 ? 100 : 700 }
        #expect(jittery.suffix(10).allSatisfy { $0 > 1000 && $0 < 2500 }, "\(jittery)")
        // A satellite hop: 5 s round trips hit the 8 s ceiling.
        let (slow, _) = lockstep(&m, rounds: 5, from: later) { _ in 5_000 }
        #expect(slow.last == 8000, "\(slow)")
        #expect(slow.allSatisfy { $0 <= 8000 })
    }

    @Test func timeoutUsesTheOptionAcknowledgementRoundTrip() {
        var m = machine(window: 4, oack: true)
        #expect(m.start(now: 0) == .sendOptionAcknowledgement)
        #expect(m.receiveAcknowledgement(0, now: 120) == .sendBlocks(first: 1, count: 4))
        #expect(m.roundTrip.sampleCount == 1)
        #expect(m.retransmissionTimeoutMilliseconds == 360 && m.currentTimeoutMilliseconds == 360)
    }

    @Test func karnNoSampleFromARetransmittedBlock() {
        var m = machine()
        _ = m.start(now: 0)
        // DATA 1 is lost; the re-send at 1000 is ACKed 1 ms later. Timed from the first send that would be
        // a 1001 ms sample (RTO 3003); from the re-send 1 ms (RTO 50). Karn: neither.
        #expect(m.timerExpired(now: 1_000) == .sendBlocks(first: 1, count: 1))
        #expect(m.receiveAcknowledgement(1, now: 1_001) == .sendBlocks(first: 2, count: 1))
        #expect(m.roundTrip.sampleCount == 0)
        #expect(m.retransmissionTimeoutMilliseconds == 1000 && m.currentTimeoutMilliseconds == 1000)
        // DATA 2 went out once: its ACK is a sample.
        #expect(m.receiveAcknowledgement(2, now: 1_003) == .sendBlocks(first: 3, count: 1))
        #expect(m.roundTrip.sampleCount == 1)
        #expect(m.retransmissionTimeoutMilliseconds == 50)

        // The OACK re-sent: ACK 0 gives no sample either.
        var o = machine(oack: true)
        _ = o.start(now: 0)
        #expect(o.timerExpired(now: 1_000) == .sendOptionAcknowledgement)
        #expect(o.receiveAcknowledgement(0, now: 1_002) == .sendBlocks(first: 1, count: 1))
        #expect(o.roundTrip.sampleCount == 0 && o.currentTimeoutMilliseconds == 1000)

        // A window: a timeout re-sends the timed last block, so its ACK is no sample; the next window is timed
        // again, and an ACK inside a window never is.
        var w = machine(window: 4)
        _ = w.start(now: 0)
        #expect(w.timerExpired(now: 1_000) == .sendBlocks(first: 1, count: 4))
        #expect(w.receiveAcknowledgement(4, now: 1_010) == .sendBlocks(first: 5, count: 4))
        #expect(w.roundTrip.sampleCount == 0)
        #expect(w.receiveAcknowledgement(6, now: 1_400) == .sendBlocks(first: 7, count: 4))
        #expect(w.roundTrip.sampleCount == 0)
        // 7...10: 7 and 8 re-sent, 9 and 10 new, so block 10 is timed from 1400.
        #expect(w.receiveAcknowledgement(10, now: 1_420) == .sendBlocks(first: 11, count: 4))
        #expect(w.roundTrip.sampleCount == 1)
        #expect(w.roundTrip.smoothedMicroseconds == 20_000)
    }

    @Test func negotiatedTimeoutIsUsedExactlyWhereTheSameLinkWouldAdapt() {
        // timeout 3 (RFC 2349): 3000 ms whatever the round trip; backoff and reset as always.
        let fixed = RetransmissionPolicy(initialTimeoutMilliseconds: 3000, maximumTimeoutMilliseconds: 8000, isAdaptive: false)
        var m = machine(policy: fixed)
        _ = m.start(now: 0)
        let (timeouts, now) = lockstep(&m, rounds: 20) { _ in 1 }
        #expect(timeouts.allSatisfy { $0 == 3000 }, "\(timeouts)")
        #expect(m.roundTrip.sampleCount == 0)
        #expect(m.timerExpired(now: now + 3000) == .sendBlocks(first: 21, count: 1))
        #expect(m.currentTimeoutMilliseconds == 6000)
        #expect(m.timerExpired(now: now + 9000) == .sendBlocks(first: 21, count: 1))
        #expect(m.currentTimeoutMilliseconds == 8000)
        #expect(m.receiveAcknowledgement(21, now: now + 9001) == .sendBlocks(first: 22, count: 1))
        #expect(m.currentTimeoutMilliseconds == 3000 && m.retransmissionTimeoutMilliseconds == 3000)

        // The same link without the option: the timeout adapts.
        var adaptive = machine(policy: RetransmissionPolicy(initialTimeoutMilliseconds: 3000, maximumTimeoutMilliseconds: 8000))
        _ = adaptive.start(now: 0)
        let (adapted, _) = lockstep(&adaptive, rounds: 20) { _ in 1 }
        #expect(adapted.allSatisfy { $0 == 50 }, "\(adapted)")
    }

    // MARK: Duplicate ACKs

    @Test func duplicateAckWithinATimeoutIsIgnoredAfterOneResendsOnce() {
        var m = machine()
        _ = m.start(now: 0)
        let (_, now) = lockstep(&m, rounds: 3) { _ in 1 }
        #expect(m.retransmissionTimeoutMilliseconds == 50)
        // DATA 4 went out at `now` and is lost; the client's timer re-sends ACK 3.
        #expect(m.receiveAcknowledgement(3, now: now + 10) == .wait)
        #expect(m.receiveAcknowledgement(3, now: now + 49) == .wait)
        #expect(m.receiveAcknowledgement(3, now: now + 50) == .sendBlocks(first: 4, count: 1))
        #expect(m.retransmissionCount == 1)
        // The re-send does not back off: the timer is re-armed as it was.
        #expect(m.currentTimeoutMilliseconds == 50)
        // More copies of that ACK within the next timeout period change nothing.
        for t in stride(from: now + 51, to: now + 100, by: 7) {
            #expect(m.receiveAcknowledgement(3, now: t) == .wait)
        }
        // One timeout period after the re-send, another copy re-sends once more.
        #expect(m.receiveAcknowledgement(3, now: now + 100) == .sendBlocks(first: 4, count: 1))
        #expect(m.receiveAcknowledgement(3, now: now + 100) == .wait)
        #expect(m.retransmissionCount == 2)
        // A re-send by the timer counts as a send too.
        #expect(m.timerExpired(now: now + 150) == .sendBlocks(first: 4, count: 1))
        #expect(m.receiveAcknowledgement(3, now: now + 199) == .wait)
        #expect(m.receiveAcknowledgement(4, now: now + 200) == .sendBlocks(first: 5, count: 1))
        #expect(m.retransmissionCount == 3)
    }

    @Test func duplicateAckZeroAfterTheOptionAcknowledgementResendsTheFirstWindow() {
        var m = machine(window: 8, oack: true)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(0, now: 1) == .sendBlocks(first: 1, count: 8))
        // The client's ACK 0 was sent twice (it is its first timeout too): ignored at once, acted on later.
        #expect(m.receiveAcknowledgement(0, now: 2) == .wait)
        #expect(m.receiveAcknowledgement(0, now: 51) == .sendBlocks(first: 1, count: 8))
        #expect(m.retransmissionCount == 8)

        // Without an OACK, ACK 0 duplicates nothing and never sends.
        var plain = machine(window: 8)
        _ = plain.start(now: 0)
        #expect(plain.receiveAcknowledgement(0, now: 5_000) == .wait)
    }

    @Test func windowLossResendsOnlyFromTheBlockAfterTheAckToTheWindowEnd() {
        var m = machine(window: 8)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 8))
        #expect(m.receiveAcknowledgement(8, now: 1) == .sendBlocks(first: 9, count: 8))
        #expect(m.retransmissionTimeoutMilliseconds == 50)
        // Block 12 of 9...16 is lost: the client ACKs 11 when it sees the gap, and again for each block after it.
        #expect(m.receiveAcknowledgement(11, now: 2) == .sendBlocks(first: 12, count: 8))
        for block: UInt64 in 13...16 {
            #expect(m.receiveAcknowledgement(11, now: 2 + block / 4) == .wait, "copy of ACK 11 for block \(block)")
        }
        #expect(m.retransmissionCount == 0)
        // 12...19 is lost too; the client re-sends ACK 11 when its timer fires: the window after 11 again,
        // exactly 12...19 (the window end), nothing before it and nothing new.
        #expect(m.receiveAcknowledgement(11, now: 60) == .sendBlocks(first: 12, count: 8))
        #expect(m.retransmissionCount == 8)
        #expect(m.receiveAcknowledgement(11, now: 61) == .wait)
        // Our own timer finds the same window unacknowledged.
        #expect(m.timerExpired(now: 110) == .sendBlocks(first: 12, count: 8))
        #expect(m.receiveAcknowledgement(19, now: 111) == .sendBlocks(first: 20, count: 8))
        #expect(m.retransmissionCount == 16)
    }

    // MARK: Silence, not duplicates, ends a transfer

    @Test func continuousDuplicateAcksKeepTheTransferAlive() {
        let policy = RetransmissionPolicy(initialTimeoutMilliseconds: 100, maximumTimeoutMilliseconds: 400, maximumRetransmissions: 2)
        var m = machine(policy: policy)
        _ = m.start(now: 0)
        #expect(m.receiveAcknowledgement(1, now: 1) == .sendBlocks(first: 2, count: 1))
        // Our DATA 2 never arrives, the client's ACK 1 does, again and again: ten times the retry limit.
        var now: UInt64 = 1
        for round in 0..<20 {
            now += UInt64(m.currentTimeoutMilliseconds)
            #expect(m.timerExpired(now: now) == .sendBlocks(first: 2, count: 1), "timeout \(round)")
            #expect(m.receiveAcknowledgement(1, now: now + 1) == .wait)
        }
        #expect(!m.isFinished)
        #expect(m.currentTimeoutMilliseconds == 400)
        // Then the client goes quiet: two more re-sends, then it is over.
        now += 400
        #expect(m.timerExpired(now: now) == .sendBlocks(first: 2, count: 1))
        now += 400
        #expect(m.timerExpired(now: now) == .sendBlocks(first: 2, count: 1))
        now += 400
        #expect(m.timerExpired(now: now) == .finished(.timedOut(retransmissions: 2)))
    }

    @Test func silenceEndsTheTransferAfterMaximumRetransmissionsWhateverCameBefore() {
        let policy = RetransmissionPolicy(initialTimeoutMilliseconds: 100, maximumTimeoutMilliseconds: 800, maximumRetransmissions: 3)
        for heard in [
            TFTPPacket.acknowledgement(block: 1), .acknowledgement(block: 0), .acknowledgement(block: 9),
            .data(block: 1, payload: []),
        ] {
            var m = machine(window: 2, policy: policy)
            _ = m.start(now: 0)
            #expect(m.receiveAcknowledgement(2, now: 1) == .sendBlocks(first: 3, count: 2))
            #expect(m.timerExpired(now: 101) == .sendBlocks(first: 3, count: 2))
            #expect(m.timerExpired(now: 301) == .sendBlocks(first: 3, count: 2))
            // A stale ACK, ACK 0, one for a block never sent, a stray DATA: the client is still there.
            #expect(m.receive(heard, now: 400) == .wait, "\(heard)")
            // Three silent timeouts in a row from here.
            #expect(m.timerExpired(now: 701) == .sendBlocks(first: 3, count: 2), "\(heard)")
            #expect(m.timerExpired(now: 1_501) == .sendBlocks(first: 3, count: 2), "\(heard)")
            #expect(m.timerExpired(now: 2_301) == .sendBlocks(first: 3, count: 2), "\(heard)")
            #expect(m.timerExpired(now: 3_101) == .finished(.timedOut(retransmissions: 3)), "\(heard)")
        }

        // While the OACK waits for ACK 0 too.
        var o = machine(oack: true, policy: policy)
        _ = o.start(now: 0)
        #expect(o.timerExpired(now: 100) == .sendOptionAcknowledgement)
        #expect(o.timerExpired(now: 300) == .sendOptionAcknowledgement)
        #expect(o.timerExpired(now: 700) == .sendOptionAcknowledgement)
        #expect(o.receiveAcknowledgement(5, now: 800) == .wait)
        #expect(o.timerExpired(now: 1_500) == .sendOptionAcknowledgement)
        #expect(o.timerExpired(now: 2_300) == .sendOptionAcknowledgement)
        #expect(o.timerExpired(now: 3_100) == .sendOptionAcknowledgement)
        #expect(o.timerExpired(now: 3_900) == .finished(.timedOut(retransmissions: 3)))
    }

    @Test func aFastRoundTripResendsSoonerButNeverGivesUpSooner() {
        // The defaults: a silent client is given up after 5 timeouts adding up to 1+2+4+8+8+8 = 31 s.
        var m = machine()
        _ = m.start(now: 0)
        let (_, start) = lockstep(&m, rounds: 3) { _ in 0 }
        #expect(m.retransmissionTimeoutMilliseconds == 50)
        // Now silence: re-sends after 50, 100, 200 ... 6400, 8000 ms (the ceiling).
        var now = start
        var gaps: [Int] = []
        var action = ReadTransferAction.wait
        repeat {
            gaps.append(m.currentTimeoutMilliseconds)
            now += UInt64(m.currentTimeoutMilliseconds)
            action = m.timerExpired(now: now)
        } while action == .sendBlocks(first: 4, count: 1)
        #expect(gaps == [50, 100, 200, 400, 800, 1600, 3200, 6400, 8000, 8000, 8000])
        #expect(action == .finished(.timedOut(retransmissions: 10)))
        // Silent for 36.75 s: at least the 31 s the configured timeout gives, not the 3.15 s five re-sends take.
        #expect(now - start == 36_750)

        // A client never heard from gets exactly the configured schedule, as before.
        var silent = machine()
        _ = silent.start(now: 0)
        var expiries: [Int] = []
        var t: UInt64 = 0
        while true {
            t += UInt64(silent.currentTimeoutMilliseconds)
            expiries.append(Int(t))
            if silent.timerExpired(now: t) == .finished(.timedOut(retransmissions: 5)) { break }
        }
        #expect(expiries == [1000, 3000, 7000, 15_000, 23_000, 31_000])
    }

    // MARK: Roll-over and unknown sizes

    @Test func duplicateAcksAcrossTheRollOver() {
        // 8-byte blocks, window 16: the window 65521...65536 straddles wire 65535 -> 0.
        var m = machine(size: 100_000 * 8, blockSize: 8, window: 16)
        var now: UInt64 = 0
        var action = m.start(now: now)
        while case .sendBlocks(let first, let count) = action, first + UInt64(count) - 1 < 65_535 {
            now += 1
            action = m.receiveAcknowledgement(ReadTransferStateMachine.wireBlockNumber(first + UInt64(count) - 1), now: now)
        }
        #expect(action == .sendBlocks(first: 65_521, count: 16))
        #expect(m.retransmissionTimeoutMilliseconds == 50)
        // Wire 65535 is absolute 65535; its duplicate after a timeout period re-sends 65536...65551 once.
        #expect(m.receiveAcknowledgement(65535, now: now + 1) == .sendBlocks(first: 65_536, count: 16))
        #expect(m.receiveAcknowledgement(65535, now: now + 2) == .wait)
        #expect(m.receiveAcknowledgement(65535, now: now + 51) == .sendBlocks(first: 65_536, count: 16))
        // Wire 0 is absolute 65536 now, not the OACK's ACK 0 and not a duplicate.
        #expect(m.receiveAcknowledgement(0, now: now + 52) == .sendBlocks(first: 65_537, count: 16))
        #expect(m.highestAcknowledgedBlock == 65_536)
        #expect(m.receiveAcknowledgement(0, now: now + 53) == .wait)
        #expect(m.receiveAcknowledgement(0, now: now + 102) == .sendBlocks(first: 65_537, count: 16))
        // A stale wire 65535 is not a duplicate of anything: ignored whatever the time.
        #expect(m.receiveAcknowledgement(65535, now: now + 500) == .wait)
        #expect(m.retransmissionCount == 32)
    }

    @Test func unknownSizeDuplicateAcksStopAtTheEndAndTheLastWindowIsTimed() {
        var m = machine(size: nil, window: 4)
        #expect(m.start(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.receiveAcknowledgement(4, now: 2) == .sendBlocks(first: 5, count: 4))
        #expect(m.roundTrip.sampleCount == 1)
        // The sender found the end at block 6 while sending 5...8.
        #expect(m.endOfData(atBlock: 6) == true)
        #expect(m.receiveAcknowledgement(5, now: 3) == .sendBlocks(first: 6, count: 1))
        #expect(m.receiveAcknowledgement(5, now: 4) == .wait)
        #expect(m.receiveAcknowledgement(5, now: 60) == .sendBlocks(first: 6, count: 1))
        #expect(m.receiveAcknowledgement(6, now: 61) == .finished(.delivered))
        #expect(m.receiveAcknowledgement(6, now: 200) == .wait)

        // The block that ends a streamed transfer is timed with the window it was found in.
        var s = machine(size: nil, window: 4)
        _ = s.start(now: 0)
        #expect(s.receiveAcknowledgement(4, now: 2) == .sendBlocks(first: 5, count: 4))
        #expect(s.endOfData(atBlock: 7) == true)
        #expect(s.receiveAcknowledgement(7, now: 32) == .finished(.delivered))
        #expect(s.roundTrip.sampleCount == 2)
        #expect(s.roundTrip.smoothedMicroseconds == (7 * 2_000 + 30_000) / 8)
    }

    @Test func timeInputsThatGoBackwardsDoNotTrap() {
        var m = machine(window: 4, oack: true)
        _ = m.start(now: 10_000)
        #expect(m.receiveAcknowledgement(0, now: 5) == .sendBlocks(first: 1, count: 4))
        #expect(m.roundTrip.smoothedMicroseconds == 0)
        #expect(m.receiveAcknowledgement(0, now: 0) == .wait)
        #expect(m.timerExpired(now: 0) == .sendBlocks(first: 1, count: 4))
        #expect(m.receiveAcknowledgement(4, now: .max) == .sendBlocks(first: 5, count: 4))
        #expect(m.receiveAcknowledgement(8, now: .max) == .sendBlocks(first: 9, count: 4))
        #expect(m.retransmissionTimeoutMilliseconds == 50)
    }
}
