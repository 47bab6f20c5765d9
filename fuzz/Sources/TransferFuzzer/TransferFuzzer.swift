// Bytes drive one ReadTransferStateMachine (small sizes, sometimes huge ones) through a sequence of ACKs, timer
// expiries, ERRORs, unrelated packets and repeated start() calls, against an independent model of the sender.
// Checks: DATA only for blocks 1...blockCount, always the window after the highest ACK, count 1...windowSize;
// a duplicate of an ACK that was just acted on yields .wait (no Sorcerer's Apprentice); stale/future ACKs are ignored;
// timeouts back off within [initial, maximum] and give up after maximumRetransmissions in a row; .finished is
// returned at most once and everything after it is .wait; byteRange tiles the file exactly.
import FuzzSupport
import TFTPProtocol

private enum ModelPhase { case idle, awaitingOptionAcknowledgementReply, sending, finished }

@_cdecl("LLVMFuzzerTestOneInput")
public func transferFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)

    let transferSize: UInt64
    switch input.byte() % 8 {
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
        maximumRetransmissions: input.int(in: -2...6)
    )
    var machine = ReadTransferStateMachine(
        transferSize: transferSize, blockSize: requestedBlockSize, windowSize: requestedWindow,
        sendsOptionAcknowledgement: sendsOACK, retransmission: policy
    )

    // Construction clamps.
    let blockSize = machine.blockSize
    let window = machine.windowSize
    fuzzCheck(blockSize == max(requestedBlockSize, 1), "blockSize \(blockSize) from \(requestedBlockSize)")
    // Windows stop at 32767, where a 16-bit block number still tells a stale ACK from a new one
    // (corpus/TransferFuzzer/stale-ack-window-65535 was the reproducer when 65535 was allowed).
    fuzzCheck(window == min(max(requestedWindow, 1), 32767), "windowSize \(window) from \(requestedWindow)")
    let (quotient, overflow) = (transferSize / UInt64(blockSize)).addingReportingOverflow(1)
    let blockCount = machine.blockCount
    fuzzCheck(blockCount == (overflow ? UInt64.max : quotient), "blockCount \(blockCount) for \(transferSize)/\(blockSize)")
    let initialTimeout = machine.retransmission.initialTimeoutMilliseconds
    let maximumTimeout = machine.retransmission.maximumTimeoutMilliseconds
    let maximumRetransmissions = machine.retransmission.maximumRetransmissions
    fuzzCheck(initialTimeout >= 1 && maximumTimeout >= initialTimeout && maximumRetransmissions >= 0, "policy not clamped: \(machine.retransmission)")
    fuzzCheck(machine.currentTimeoutMilliseconds == initialTimeout, "timeout does not start at the initial value")
    checkByteRanges(machine, blocks: [0, 1, 2, blockCount &- 1, blockCount, blockCount &+ 1, UInt64.max])

    // The model.
    var phase = ModelPhase.idle
    var acked: UInt64 = 0
    var sentUpTo: UInt64 = 0
    var consecutive = 0
    var timeout = initialTimeout
    var retransmissions = 0
    var finishedCount = 0

    func expectWindow(after block: UInt64) -> ReadTransferAction {
        let count = Int(min(UInt64(window), blockCount - block))
        return .sendBlocks(first: block + 1, count: count)
    }

    /// Common checks on every action, then the model update for sends and ends.
    func observe(_ action: ReadTransferAction, expected: ReadTransferAction, event: @autoclosure () -> String) {
        fuzzCheck(action == expected, "\(event()): got \(action), model expects \(expected) (acked \(acked), sentUpTo \(sentUpTo), blockCount \(blockCount), window \(window))")
        switch action {
        case .sendBlocks(let first, let count):
            fuzzCheck(first >= 1, "\(event()): first block \(first)")
            fuzzCheck(count >= 1 && count <= window, "\(event()): count \(count) with window \(window)")
            fuzzCheck(first - 1 <= blockCount && UInt64(count) <= blockCount - (first - 1), "\(event()): blocks \(first)+\(count) past blockCount \(blockCount)")
            fuzzCheck(first == acked + 1, "\(event()): window starts at \(first), highest ACK is \(acked)")
            sentUpTo = max(sentUpTo, first - 1 + UInt64(count))
            let last = first - 1 + UInt64(count)
            checkByteRanges(machine, blocks: [first, last])
        case .finished:
            finishedCount += 1
            fuzzCheck(finishedCount == 1, "\(event()): finished twice")
            phase = .finished
        case .wait, .sendOptionAcknowledgement:
            break
        }
        fuzzCheck(machine.isFinished == (phase == .finished), "\(event()): isFinished \(machine.isFinished), model phase \(phase)")
        fuzzCheck(machine.isAwaitingOptionAcknowledgementReply == (phase == .awaitingOptionAcknowledgementReply), "\(event()): awaiting-OACK flag disagrees")
        fuzzCheck(machine.highestAcknowledgedBlock == acked, "\(event()): highestAcknowledgedBlock \(machine.highestAcknowledgedBlock), model \(acked)")
        fuzzCheck(machine.currentTimeoutMilliseconds == timeout, "\(event()): timeout \(machine.currentTimeoutMilliseconds), model \(timeout)")
        fuzzCheck(timeout >= initialTimeout && timeout <= maximumTimeout, "\(event()): timeout \(timeout) outside \(initialTimeout)...\(maximumTimeout)")
        fuzzCheck(machine.retransmissionCount == retransmissions, "\(event()): retransmissionCount \(machine.retransmissionCount), model \(retransmissions)")
    }

    // start()
    do {
        let expected: ReadTransferAction
        if sendsOACK {
            phase = .awaitingOptionAcknowledgementReply
            expected = .sendOptionAcknowledgement
        } else {
            phase = .sending
            expected = expectWindow(after: 0)
        }
        observe(machine.start(), expected: expected, event: "start")
    }

    var events = 0
    while !input.isExhausted, events < 2048 {
        events += 1
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
            let before = (acked: acked, phase: phase)
            let expected: ReadTransferAction
            var actedOn = false
            switch phase {
            case .idle, .finished:
                expected = .wait
            case .awaitingOptionAcknowledgementReply:
                if wire == 0 {
                    phase = .sending
                    consecutive = 0
                    timeout = initialTimeout
                    expected = expectWindow(after: 0)
                    actedOn = true
                } else {
                    expected = .wait
                }
            case .sending:
                let distance = UInt64(wire &- UInt16(truncatingIfNeeded: acked))
                if distance > 0, distance <= sentUpTo - acked {
                    acked += distance
                    consecutive = 0
                    timeout = initialTimeout
                    actedOn = true
                    expected = acked >= blockCount ? .finished(.delivered) : expectWindow(after: acked)
                } else {
                    expected = .wait
                }
            }
            // An ACK for a block older than the highest acknowledged one is stale (a delayed duplicate) and must be ignored.
            if staleBy > 0, phase == .sending {
                fuzzCheck(expected == .wait, "stale ACK \(wire) (older than acked block \(before.acked)) accepted with window \(window)")
            }
            let action = viaPacket ? machine.receive(.acknowledgement(block: wire)) : machine.receiveAcknowledgement(wire)
            observe(action, expected: expected, event: "ACK \(wire) (acked \(before.acked), \(before.phase))")
            // The same ACK again, right away: a duplicate must never trigger a send.
            if actedOn, input.bool() {
                observe(machine.receiveAcknowledgement(wire), expected: .wait, event: "duplicate ACK \(wire)")
            }
        case 5, 6:
            let expected: ReadTransferAction
            switch phase {
            case .idle, .finished:
                expected = .wait
            case .awaitingOptionAcknowledgementReply, .sending:
                if consecutive >= maximumRetransmissions {
                    expected = .finished(.timedOut(retransmissions: consecutive))
                } else {
                    consecutive += 1
                    let (doubled, overflow) = timeout.multipliedReportingOverflow(by: 2)
                    timeout = overflow ? maximumTimeout : min(doubled, maximumTimeout)
                    if phase == .awaitingOptionAcknowledgementReply {
                        retransmissions += 1
                        expected = .sendOptionAcknowledgement
                    } else {
                        let resend = expectWindow(after: acked)
                        if case .sendBlocks(_, let count) = resend { retransmissions += count }
                        expected = resend
                    }
                }
            }
            observe(machine.timerExpired(), expected: expected, event: "timer")
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
            observe(machine.receive(.error(code: code, message: message)), expected: expected, event: "ERROR \(code)")
        case 8:
            // Packets a client has no business sending on a read transfer change nothing.
            let packets: [TFTPPacket] = [
                .data(block: input.uint16(), payload: []),
                .optionAcknowledgement([TFTPOption(name: "blksize", value: "8")]),
                .readRequest(TFTPRequest(filename: "x", mode: "octet")),
                .writeRequest(TFTPRequest(filename: "y", mode: "netascii")),
            ]
            observe(machine.receive(packets[Int(input.byte()) % packets.count]), expected: .wait, event: "stray packet")
        default:
            observe(machine.start(), expected: .wait, event: "start again")
        }
    }
    return 0
}

/// byteRange: block 1..<blockCount is a full block at (b-1)*blockSize, the last block holds the remainder, anything else is empty.
private func checkByteRanges(_ machine: ReadTransferStateMachine, blocks: [UInt64]) {
    let size = machine.transferSize
    let blockSize = UInt64(machine.blockSize)
    let saturated = size / blockSize == UInt64.max // blockCount could not count the final empty block
    for block in blocks {
        let range = machine.byteRange(ofBlock: block)
        fuzzCheck(range.length >= 0 && UInt64(range.length) <= blockSize, "block \(block): length \(range.length)")
        fuzzCheck(range.offset <= size && UInt64(range.length) <= size - range.offset, "block \(block): \(range) past the end of \(size) bytes")
        if block >= 1, block < machine.blockCount || (block == machine.blockCount && !saturated) {
            let offset = (block - 1) * blockSize
            fuzzCheck(range.offset == offset, "block \(block): offset \(range.offset), expected \(offset)")
            let expectedLength = block < machine.blockCount ? blockSize : size % blockSize
            fuzzCheck(UInt64(range.length) == expectedLength, "block \(block) of \(machine.blockCount): length \(range.length), expected \(expectedLength)")
        } else if block == 0 || block > machine.blockCount {
            fuzzCheck(range.length == 0, "block \(block) outside 1...\(machine.blockCount) has length \(range.length)")
        }
    }
}
