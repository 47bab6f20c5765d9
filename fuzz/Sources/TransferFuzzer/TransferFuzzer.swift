// Bytes drive one ReadTransferStateMachine (small sizes, sometimes huge ones) through a sequence of ACKs, timer
// expiries, ERRORs, unrelated packets, repeated start() and endOfData calls, against an independent model of the sender.
// Time moves forward by a random step before every event (0 ms to ~16 s), and every input carries it.
// The machine is told the size up front, or (bit 7 of the first byte) not: then the model plays the streaming sender
// and calls endOfData(atBlock:) the first time a requested window reaches the file's last block.
// Checks: DATA only for blocks 1...blockCount (with an unknown size: full windows until the end is reported, never a
// block past it afterwards), always the window after the highest ACK, count 1...windowSize; .delivered only once the
// last block is acknowledged; a duplicate of the highest ACK re-sends only when nothing went out for a whole
// retransmission timeout, so duplicates trigger at most one re-send per timeout period (no Sorcerer's Apprentice);
// stale/future ACKs are ignored; endOfData calls that make no sense are refused and change nothing; the round-trip
// estimate (RFC 6298, samples only from blocks sent once, timed from their window's first send to the first ACK
// covering them) matches the model, and the retransmission timeout stays within [floor, ceiling] once measured, at the
// initial value before and always when fixed (negotiated timeout); timeouts back off up to the ceiling and return to
// it on progress; .timedOut only after more than maximumRetransmissions expiries with no datagram at all from the
// client, whose timeouts add up to what the configured schedule takes (initial doubling to the ceiling);
// .finished is returned at most once and everything after it is .wait; byteRange tiles the file exactly (nominal
// ranges while the size is unknown).
import FuzzSupport
import TFTPProtocol

private enum ModelPhase { case idle, awaitingOptionAcknowledgementReply, sending, finished }

@_cdecl("LLVMFuzzerTestOneInput")
public func transferFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)

    let sizeSelector = input.byte()
    // The machine learns the end from the sender (netascii converted while sending) instead of from transferSize.
    let streaming = sizeSelector & 0x80 != 0
    let transferSize: UInt64
    switch sizeSelector % 8 {
    case 0: transferSize = input.uint64()
    case 1: transferSize = UInt64(input.uint32())
    default: transferSize = UInt64(input.int(in: 0...4096))
    }
    let requestedBlockSize = input.byte() % 16 == 0 ? input.int(in: -3...70_000) : input.int(in: -1...64)
    let requestedWindow = input.byte() % 16 == 0 ? input.int(in: -3...70_000) : input.int(in: -1...8)
    let sendsOACK = input.bool()
    let policy = RetransmissionPolicy(
        initialTimeoutMilliseconds: input.int(in: -5...5_000),
        maximumTimeoutMilliseconds: input.bool() ? input.int(in: -5...20_000) : Int.max - input.int(in: 0...3),
        maximumRetransmissions: input.int(in: -2...6),
        // Adaptive unless the low bit says the client negotiated a timeout.
        isAdaptive: !input.bool()
    )
    /// The loop's clock: monotonic milliseconds, advanced by `tick()` before every event.
    var now = UInt64(input.uint32())
    func tick() {
        let step = input.byte()
        switch step {
        case 0..<128: now += UInt64(step)
        case 128..<224: now += UInt64(step - 128) * 16
        default: now += UInt64(step - 224) * 512
        }
    }
    var machine = ReadTransferStateMachine(
        transferSize: streaming ? nil : transferSize, blockSize: requestedBlockSize, windowSize: requestedWindow,
        sendsOptionAcknowledgement: sendsOACK, retransmission: policy
    )

    // Construction clamps.
    let blockSize = machine.blockSize
    let window = machine.windowSize
    fuzzCheck(blockSize == max(requestedBlockSize, 1), "blockSize \(blockSize) from \(requestedBlockSize)")
    // Windows stop at 32767, where a 16-bit block number still tells a stale ACK from a new one
    // (corpus/TransferFuzzer/stale-ack-window-65535 was the reproducer when 65535 was allowed).
    fuzzCheck(window == min(max(requestedWindow, 1), 32767), "windowSize \(window) from \(requestedWindow)")
    // The file's last block, whether or not the machine knows it.
    let (quotient, overflow) = (transferSize / UInt64(blockSize)).addingReportingOverflow(1)
    let lastBlock = overflow ? UInt64.max : quotient
    if streaming {
        fuzzCheck(
            machine.blockCount == nil && machine.transferSize == nil,
            "unknown size reported as \(String(describing: machine.blockCount)) blocks")
    } else {
        fuzzCheck(machine.blockCount == lastBlock, "blockCount \(String(describing: machine.blockCount)) for \(transferSize)/\(blockSize)")
    }
    let initialTimeout = machine.retransmission.initialTimeoutMilliseconds
    let maximumTimeout = machine.retransmission.maximumTimeoutMilliseconds
    let maximumRetransmissions = machine.retransmission.maximumRetransmissions
    let adaptive = machine.retransmission.isAdaptive
    fuzzCheck(adaptive == policy.isAdaptive, "isAdaptive changed by the machine")
    fuzzCheck(
        initialTimeout >= 1 && maximumTimeout >= initialTimeout && maximumRetransmissions >= 0,
        "policy not clamped: \(machine.retransmission)")
    fuzzCheck(machine.currentTimeoutMilliseconds == initialTimeout, "timeout does not start at the initial value")
    fuzzCheck(machine.retransmissionTimeoutMilliseconds == initialTimeout, "retransmission timeout does not start at the initial value")
    // The floor (50 ms, or the ceiling when lower) and the ceiling of the round-trip estimate.
    let floor = min(RetransmissionPolicy.minimumAdaptiveTimeoutMilliseconds, maximumTimeout)
    fuzzCheck(
        machine.retransmission.adaptiveTimeoutRange == floor...maximumTimeout,
        "adaptive range \(machine.retransmission.adaptiveTimeoutRange), expected \(floor)...\(maximumTimeout)")
    // How long a client must be silent before it is given up: maximumRetransmissions + 1 timeouts from the initial
    // one, doubling up to the ceiling (saturating).
    var silenceLimit = 0
    do {
        var step = initialTimeout
        for _ in 0...maximumRetransmissions {
            let (sum, overflow) = silenceLimit.addingReportingOverflow(step)
            silenceLimit = overflow ? Int.max : sum
            let (doubled, doubledOverflow) = step.multipliedReportingOverflow(by: 2)
            step = doubledOverflow ? maximumTimeout : min(doubled, maximumTimeout)
        }
    }
    fuzzCheck(
        machine.retransmission.silenceLimitMilliseconds == silenceLimit,
        "silence limit \(machine.retransmission.silenceLimitMilliseconds), model \(silenceLimit)")
    checkByteRanges(machine, blocks: [0, 1, 2, lastBlock &- 1, lastBlock, lastBlock &+ 1, UInt64.max])

    // The model.
    var phase = ModelPhase.idle
    /// True once the machine knows the last block (from the size, or from endOfData).
    var endReported = !streaming
    /// The last block as the machine should know it: UInt64.max while unknown.
    var modelEnd = streaming ? UInt64.max : lastBlock
    var acked: UInt64 = 0
    var sentUpTo: UInt64 = 0
    var consecutive = 0
    var timeout = initialTimeout
    var retransmissions = 0
    var finishedCount = 0
    /// Timer expiries since the client was last heard from (any datagram while the transfer runs), and the
    /// timeouts they were armed with, added up.
    var silentExpiries = 0
    var silentSpent = 0
    /// The retransmission timeout without backoff, and the RFC 6298 state behind it (microseconds).
    var rto = initialTimeout
    var smoothed: Int?
    var variation = 0
    var samples = 0
    /// The block being timed for a round-trip sample (0: the OACK) and when it went out; when anything last went out.
    var timedBlock: UInt64?
    var timedAt: UInt64 = 0
    var lastSend: UInt64 = 0

    /// RFC 6298 §2, written out from the RFC: R in whole milliseconds, state in microseconds, gains 1/8 and 1/4.
    func takeSample(acknowledging block: UInt64) {
        guard let timed = timedBlock, block >= timed else { return }
        timedBlock = nil
        guard adaptive else { return }
        let r = Int(min(now >= timedAt ? now - timedAt : 0, 86_400_000)) * 1000
        if let srtt = smoothed {
            variation = (3 * variation + abs(srtt - r)) / 4
            smoothed = (7 * srtt + r) / 8
        } else {
            smoothed = r
            variation = r / 2
        }
        samples += 1
        let raw = smoothed! + max(1000, 4 * variation)
        rto = min(max((raw + 999) / 1000, floor), maximumTimeout)
    }

    func expectWindow(after block: UInt64) -> ReadTransferAction {
        let count = Int(min(UInt64(window), modelEnd - block))
        return .sendBlocks(first: block + 1, count: count)
    }

    /// Common checks on every action, then the model update for sends and ends.
    func observe(_ action: ReadTransferAction, expected: ReadTransferAction, event eventText: @autoclosure () -> String) {
        func event() -> String { "\(eventText()) at \(now) ms" }
        fuzzCheck(
            action == expected,
            "\(event()): got \(action), model expects \(expected) (acked \(acked), sentUpTo \(sentUpTo), lastBlock \(lastBlock), end known \(endReported), window \(window))"
        )
        switch action {
        case .sendBlocks(let first, let count):
            fuzzCheck(first >= 1, "\(event()): first block \(first)")
            fuzzCheck(count >= 1 && count <= window, "\(event()): count \(count) with window \(window)")
            fuzzCheck(first <= lastBlock, "\(event()): window starts at \(first), past the last block \(lastBlock)")
            fuzzCheck(first == acked + 1, "\(event()): window starts at \(first), highest ACK is \(acked)")
            let last = first - 1 + UInt64(count)
            // Karn: only a window whose last block goes out for the first time is timed, by that block.
            if last > sentUpTo {
                timedBlock = last
                timedAt = now
            } else {
                timedBlock = nil
            }
            lastSend = now
            if endReported {
                fuzzCheck(last <= lastBlock, "\(event()): blocks \(first)...\(last) past the known last block \(lastBlock)")
            } else {
                fuzzCheck(count == window, "\(event()): \(count) blocks asked for while the size is unknown, window \(window)")
            }
            if streaming, last >= lastBlock {
                // The sender produced the last block (short or empty): it sends first...lastBlock and says so,
                // also when it produces that block again for a retransmission.
                let accepted = machine.endOfData(atBlock: lastBlock)
                fuzzCheck(accepted, "\(event()): endOfData(atBlock: \(lastBlock)) refused (acked \(acked))")
                endReported = true
                modelEnd = lastBlock
                fuzzCheck(
                    machine.blockCount == lastBlock,
                    "\(event()): blockCount \(String(describing: machine.blockCount)) after endOfData(atBlock: \(lastBlock))")
                // The end block left in this window: it is timed instead of the blocks that do not exist.
                if let timed = timedBlock, timed > lastBlock { timedBlock = lastBlock }
            }
            sentUpTo = max(sentUpTo, min(last, lastBlock))
            checkByteRanges(machine, blocks: [first, last])
        case .finished(let outcome):
            finishedCount += 1
            fuzzCheck(finishedCount == 1, "\(event()): finished twice")
            if outcome == .delivered {
                fuzzCheck(
                    endReported && acked == lastBlock,
                    "\(event()): delivered with acked \(acked), last block \(lastBlock), end known \(endReported)")
            }
            if case .timedOut(let count) = outcome {
                // Dead only after at least maximumRetransmissions re-sends and one more expiry, all without a word
                // from the client, for at least as long as the configured schedule takes.
                fuzzCheck(
                    count >= maximumRetransmissions && silentExpiries == count + 1 && silentSpent >= silenceLimit,
                    "\(event()): timed out after \(count) retransmissions, \(silentExpiries) silent expiries of \(silentSpent) ms, limits \(maximumRetransmissions) and \(silenceLimit) ms"
                )
            }
            phase = .finished
        case .wait, .sendOptionAcknowledgement:
            break
        }
        fuzzCheck(machine.isFinished == (phase == .finished), "\(event()): isFinished \(machine.isFinished), model phase \(phase)")
        fuzzCheck(
            machine.isAwaitingOptionAcknowledgementReply == (phase == .awaitingOptionAcknowledgementReply),
            "\(event()): awaiting-OACK flag disagrees")
        fuzzCheck(
            machine.highestAcknowledgedBlock == acked,
            "\(event()): highestAcknowledgedBlock \(machine.highestAcknowledgedBlock), model \(acked)")
        fuzzCheck(
            machine.currentTimeoutMilliseconds == timeout, "\(event()): timeout \(machine.currentTimeoutMilliseconds), model \(timeout)")
        fuzzCheck(
            timeout >= min(initialTimeout, floor) && timeout <= maximumTimeout,
            "\(event()): timeout \(timeout) outside \(min(initialTimeout, floor))...\(maximumTimeout)")
        fuzzCheck(
            machine.retransmissionCount == retransmissions,
            "\(event()): retransmissionCount \(machine.retransmissionCount), model \(retransmissions)")
        // The retransmission timeout: the estimate within [floor, ceiling] once measured, the initial value before;
        // exactly the initial (negotiated) value when fixed, with no estimator at all.
        let current = machine.retransmissionTimeoutMilliseconds
        fuzzCheck(current == rto, "\(event()): retransmission timeout \(current), model \(rto)")
        if !adaptive {
            fuzzCheck(
                current == initialTimeout && machine.roundTrip.sampleCount == 0,
                "\(event()): fixed timeout became \(current) after \(machine.roundTrip.sampleCount) samples")
        } else if machine.roundTrip.sampleCount == 0 {
            fuzzCheck(
                current == initialTimeout, "\(event()): retransmission timeout \(current) before any sample, initial \(initialTimeout)")
        } else {
            fuzzCheck(
                current >= floor && current <= maximumTimeout,
                "\(event()): retransmission timeout \(current) outside \(floor)...\(maximumTimeout)")
        }
        fuzzCheck(
            machine.roundTrip.sampleCount == samples && machine.roundTrip.smoothedMicroseconds == smoothed
                && (samples == 0 || machine.roundTrip.variationMicroseconds == variation),
            "\(event()): estimator \(machine.roundTrip), model srtt \(String(describing: smoothed)) rttvar \(variation) samples \(samples)")
    }

    // start()
    do {
        let expected: ReadTransferAction
        if sendsOACK {
            phase = .awaitingOptionAcknowledgementReply
            expected = .sendOptionAcknowledgement
            timedBlock = 0
            timedAt = now
            lastSend = now
        } else {
            phase = .sending
            expected = expectWindow(after: 0)
        }
        observe(machine.start(now: now), expected: expected, event: "start")
    }

    /// The client was heard from: the silent-timeout counts start over.
    func heard() {
        guard phase == .awaitingOptionAcknowledgementReply || phase == .sending else { return }
        consecutive = 0
        silentExpiries = 0
        silentSpent = 0
    }

    var events = 0
    while !input.isExhausted, events < 2048 {
        events += 1
        tick()
        let op = input.byte()
        switch op % 10 {
        case 0...4:
            // An ACK: mostly near the window (next, inside, duplicate, stale, rolled over), sometimes any number.
            let wire: UInt16
            var staleBy: UInt64 = 0
            switch op / 10 % 5 {
            case 0: wire = UInt16(truncatingIfNeeded: sentUpTo)
            case 1: wire = UInt16(truncatingIfNeeded: acked &+ UInt64(input.int(in: 0...8)))
            case 2:
                staleBy = min(UInt64(input.int(in: 0...8)), acked)
                wire = UInt16(truncatingIfNeeded: acked - staleBy)
            case 3: wire = UInt16(truncatingIfNeeded: acked &+ UInt64(input.int(in: 0...70_000)))
            default: wire = input.uint16()
            }
            let viaPacket = op & 0x80 != 0
            let before = (acked: acked, phase: phase, lastSend: lastSend, rto: rto)
            let expected: ReadTransferAction
            var actedOn = false
            var duplicateResend = false
            heard()
            switch phase {
            case .idle, .finished:
                expected = .wait
            case .awaitingOptionAcknowledgementReply:
                if wire == 0 {
                    phase = .sending
                    takeSample(acknowledging: 0)
                    timeout = rto
                    expected = expectWindow(after: 0)
                    actedOn = true
                } else {
                    expected = .wait
                }
            case .sending:
                let distance = UInt64(wire &- UInt16(truncatingIfNeeded: acked))
                if distance == 0 {
                    // A duplicate of the highest ACK (ACK 0 only once it answered an OACK): re-send the window after
                    // it if nothing went out for a whole retransmission timeout.
                    let quiet = now >= lastSend ? now - lastSend : 0
                    if (acked > 0 || sendsOACK) && quiet >= UInt64(rto) {
                        let resend = expectWindow(after: acked)
                        if case .sendBlocks(_, let count) = resend { retransmissions += count }
                        expected = resend
                        duplicateResend = true
                    } else {
                        expected = .wait
                    }
                } else if distance <= sentUpTo - acked {
                    acked += distance
                    takeSample(acknowledging: acked)
                    timeout = rto
                    actedOn = true
                    expected = acked >= modelEnd ? .finished(.delivered) : expectWindow(after: acked)
                } else {
                    expected = .wait
                }
            }
            // An ACK for a block older than the highest acknowledged one is stale (a delayed duplicate) and must be ignored.
            if staleBy > 0, phase == .sending {
                fuzzCheck(expected == .wait, "stale ACK \(wire) (older than acked block \(before.acked)) accepted with window \(window)")
            }
            let action =
                viaPacket ? machine.receive(.acknowledgement(block: wire), now: now) : machine.receiveAcknowledgement(wire, now: now)
            if duplicateResend, case .sendBlocks = action {
                // At most one re-send per timeout period for duplicates: nothing went out within the last one.
                fuzzCheck(
                    now >= before.lastSend && now - before.lastSend >= UInt64(before.rto),
                    "duplicate ACK \(wire) re-sent \(now - before.lastSend) ms after the last send, timeout \(before.rto)")
            }
            observe(action, expected: expected, event: "ACK \(wire) (acked \(before.acked), \(before.phase))")
            // The same ACK again, right away: a duplicate of an ACK just acted on must never trigger a send.
            if actedOn || duplicateResend, input.bool() {
                heard()
                observe(machine.receiveAcknowledgement(wire, now: now), expected: .wait, event: "duplicate ACK \(wire)")
            }
        case 5, 6:
            let expected: ReadTransferAction
            switch phase {
            case .idle, .finished:
                expected = .wait
            case .awaitingOptionAcknowledgementReply, .sending:
                silentExpiries += 1
                let (spent, overflow) = silentSpent.addingReportingOverflow(timeout)
                silentSpent = overflow ? Int.max : spent
                if consecutive >= maximumRetransmissions && silentSpent >= silenceLimit {
                    expected = .finished(.timedOut(retransmissions: consecutive))
                } else {
                    consecutive += 1
                    let (doubled, overflow) = timeout.multipliedReportingOverflow(by: 2)
                    timeout = overflow ? maximumTimeout : min(doubled, maximumTimeout)
                    if phase == .awaitingOptionAcknowledgementReply {
                        retransmissions += 1
                        timedBlock = nil
                        lastSend = now
                        expected = .sendOptionAcknowledgement
                    } else {
                        let resend = expectWindow(after: acked)
                        if case .sendBlocks(_, let count) = resend { retransmissions += count }
                        expected = resend
                    }
                }
            }
            observe(machine.timerExpired(now: now), expected: expected, event: "timer")
        case 7:
            let code = TFTPErrorCode(rawValue: input.bool() ? 8 : input.uint16())
            let message = String(decoding: input.bytes(Int(input.byte() % 8)), as: UTF8.self)
            let expected: ReadTransferAction
            switch phase {
            case .idle, .finished:
                expected = .wait
            case .awaitingOptionAcknowledgementReply where code == .optionNegotiationFailed:
                expected = .finished(.sizeProbe)
            case .awaitingOptionAcknowledgementReply, .sending:
                expected = .finished(.abortedByClient(code: code, message: message))
            }
            observe(machine.receive(.error(code: code, message: message), now: now), expected: expected, event: "ERROR \(code)")
        case 8:
            // Packets a client has no business sending on a read transfer change nothing, but show it is there.
            heard()
            let packets: [TFTPPacket] = [
                .data(block: input.uint16(), payload: []),
                .optionAcknowledgement([TFTPOption(name: "blksize", value: "8")]),
                .readRequest(TFTPRequest(filename: "x", mode: "octet")),
                .writeRequest(TFTPRequest(filename: "y", mode: "netascii")),
            ]
            observe(machine.receive(packets[Int(input.byte()) % packets.count], now: now), expected: .wait, event: "stray packet")
        default:
            guard op & 0x80 != 0 else {
                observe(machine.start(now: now), expected: .wait, event: "start again")
                break
            }
            // endOfData out of turn: nonsense is refused and changes nothing; the real end (again, or reported
            // early by a sender that read ahead) is taken unless the transfer is over.
            let kind = input.byte() % 4
            let block: UInt64
            switch kind {
            case 0: block = 0
            case 1: block = acked == 0 ? 0 : UInt64(input.int(in: 1...8)) % acked + 1
            case 2: block = endReported ? lastBlock &+ UInt64(input.int(in: 1...8)) : 0
            default: block = lastBlock
            }
            let expected = kind == 3 && phase != .finished
            let before = (blockCount: machine.blockCount, acked: machine.highestAcknowledgedBlock, finished: machine.isFinished)
            let accepted = machine.endOfData(atBlock: block)
            fuzzCheck(
                accepted == expected,
                "endOfData(atBlock: \(block)) returned \(accepted) (acked \(acked), last block \(lastBlock), end known \(endReported), \(phase))"
            )
            if accepted {
                endReported = true
                modelEnd = lastBlock
                if let timed = timedBlock, timed > lastBlock { timedBlock = lastBlock }
                fuzzCheck(
                    machine.blockCount == lastBlock,
                    "blockCount \(String(describing: machine.blockCount)) after endOfData(atBlock: \(lastBlock))")
            } else {
                fuzzCheck(
                    machine.blockCount == before.blockCount,
                    "refused endOfData(atBlock: \(block)) changed blockCount to \(String(describing: machine.blockCount))")
            }
            fuzzCheck(
                machine.highestAcknowledgedBlock == before.acked && machine.isFinished == before.finished,
                "endOfData(atBlock: \(block)) changed the transfer")
        }
    }
    return 0
}

/// byteRange: block 1..<blockCount is a full block at (b-1)*blockSize, the last block holds the remainder, anything else
/// is empty. With an unknown size: every block that may exist (1...blockCount, or any while the end is unknown) is a
/// nominal full block at (b-1)*blockSize; blocks whose offset overflows and all others are (0, 0).
private func checkByteRanges(_ machine: ReadTransferStateMachine, blocks: [UInt64]) {
    let blockSize = UInt64(machine.blockSize)
    guard let size = machine.transferSize, let blockCount = machine.blockCount else {
        fuzzCheck(machine.transferSize == nil, "transferSize \(String(describing: machine.transferSize)) without a blockCount")
        for block in blocks {
            let range = machine.byteRange(ofBlock: block)
            let (offset, overflow) = (block &- 1).multipliedReportingOverflow(by: blockSize)
            if block >= 1, !overflow, block <= machine.blockCount ?? UInt64.max {
                fuzzCheck(
                    range.offset == offset && range.length == machine.blockSize,
                    "unknown size, block \(block): \(range), expected (\(offset), \(blockSize))")
            } else {
                fuzzCheck(range.offset == 0 && range.length == 0, "unknown size, block \(block) that cannot exist: \(range)")
            }
        }
        return
    }
    let saturated = size / blockSize == UInt64.max  // blockCount could not count the final empty block
    for block in blocks {
        let range = machine.byteRange(ofBlock: block)
        fuzzCheck(range.length >= 0 && UInt64(range.length) <= blockSize, "block \(block): length \(range.length)")
        fuzzCheck(
            range.offset <= size && UInt64(range.length) <= size - range.offset, "block \(block): \(range) past the end of \(size) bytes")
        if block >= 1, block < blockCount || (block == blockCount && !saturated) {
            let offset = (block - 1) * blockSize
            fuzzCheck(range.offset == offset, "block \(block): offset \(range.offset), expected \(offset)")
            let expectedLength = block < blockCount ? blockSize : size % blockSize
            fuzzCheck(
                UInt64(range.length) == expectedLength,
                "block \(block) of \(blockCount): length \(range.length), expected \(expectedLength)")
        } else if block == 0 || block > blockCount {
            fuzzCheck(range.length == 0, "block \(block) outside 1...\(blockCount) has length \(range.length)")
        }
    }
}
