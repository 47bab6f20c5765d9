// Bytes drive one ReadTransferStateMachine (small sizes, sometimes huge ones) through a sequence of ACKs, timer
// expiries, ERRORs, unrelated packets, repeated start() and endOfData calls, against an independent model of the sender.
// The machine is told the size up front, or (bit 7 of the first byte) not: then the model plays the streaming sender
// and calls endOfData(atBlock:) the first time a requested window reaches the file's last block.
// Checks: DATA only for blocks 1...blockCount (with an unknown size: full windows until the end is reported, never a
// block past it afterwards), always the window after the highest ACK, count 1...windowSize; .delivered only once the
// last block is acknowledged; a duplicate of an ACK that was just acted on yields .wait (no Sorcerer's Apprentice);
// stale/future ACKs are ignored; endOfData calls that make no sense are refused and change nothing; timeouts back off
// within [initial, maximum] and give up after maximumRetransmissions in a row; .finished is returned at most once and
// everything after it is .wait; byteRange tiles the file exactly (nominal ranges while the size is unknown).
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
        maximumRetransmissions: input.int(in: -2...6)
    )
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
        fuzzCheck(machine.blockCount == nil && machine.transferSize == nil, "unknown size reported as \(String(describing: machine.blockCount)) blocks")
    } else {
        fuzzCheck(machine.blockCount == lastBlock, "blockCount \(String(describing: machine.blockCount)) for \(transferSize)/\(blockSize)")
    }
    let initialTimeout = machine.retransmission.initialTimeoutMilliseconds
    let maximumTimeout = machine.retransmission.maximumTimeoutMilliseconds
    let maximumRetransmissions = machine.retransmission.maximumRetransmissions
    fuzzCheck(initialTimeout >= 1 && maximumTimeout >= initialTimeout && maximumRetransmissions >= 0, "policy not clamped: \(machine.retransmission)")
    fuzzCheck(machine.currentTimeoutMilliseconds == initialTimeout, "timeout does not start at the initial value")
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

    func expectWindow(after block: UInt64) -> ReadTransferAction {
        let count = Int(min(UInt64(window), modelEnd - block))
        return .sendBlocks(first: block + 1, count: count)
    }

    /// Common checks on every action, then the model update for sends and ends.
    func observe(_ action: ReadTransferAction, expected: ReadTransferAction, event: @autoclosure () -> String) {
        fuzzCheck(action == expected, "\(event()): got \(action), model expects \(expected) (acked \(acked), sentUpTo \(sentUpTo), lastBlock \(lastBlock), end known \(endReported), window \(window))")
        switch action {
        case .sendBlocks(let first, let count):
            fuzzCheck(first >= 1, "\(event()): first block \(first)")
            fuzzCheck(count >= 1 && count <= window, "\(event()): count \(count) with window \(window)")
            fuzzCheck(first <= lastBlock, "\(event()): window starts at \(first), past the last block \(lastBlock)")
            fuzzCheck(first == acked + 1, "\(event()): window starts at \(first), highest ACK is \(acked)")
            let last = first - 1 + UInt64(count)
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
                fuzzCheck(machine.blockCount == lastBlock, "\(event()): blockCount \(String(describing: machine.blockCount)) after endOfData(atBlock: \(lastBlock))")
            }
            sentUpTo = max(sentUpTo, min(last, lastBlock))
            checkByteRanges(machine, blocks: [first, last])
        case .finished(let outcome):
            finishedCount += 1
            fuzzCheck(finishedCount == 1, "\(event()): finished twice")
            if outcome == .delivered {
                fuzzCheck(endReported && acked == lastBlock, "\(event()): delivered with acked \(acked), last block \(lastBlock), end known \(endReported)")
            }
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
                    expected = acked >= modelEnd ? .finished(.delivered) : expectWindow(after: acked)
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
            guard op & 0x80 != 0 else {
                observe(machine.start(), expected: .wait, event: "start again")
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
            fuzzCheck(accepted == expected, "endOfData(atBlock: \(block)) returned \(accepted) (acked \(acked), last block \(lastBlock), end known \(endReported), \(phase))")
            if accepted {
                endReported = true
                modelEnd = lastBlock
                fuzzCheck(machine.blockCount == lastBlock, "blockCount \(String(describing: machine.blockCount)) after endOfData(atBlock: \(lastBlock))")
            } else {
                fuzzCheck(machine.blockCount == before.blockCount, "refused endOfData(atBlock: \(block)) changed blockCount to \(String(describing: machine.blockCount))")
            }
            fuzzCheck(machine.highestAcknowledgedBlock == before.acked && machine.isFinished == before.finished, "endOfData(atBlock: \(block)) changed the transfer")
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
                fuzzCheck(range.offset == offset && range.length == machine.blockSize, "unknown size, block \(block): \(range), expected (\(offset), \(blockSize))")
            } else {
                fuzzCheck(range.offset == 0 && range.length == 0, "unknown size, block \(block) that cannot exist: \(range)")
            }
        }
        return
    }
    let saturated = size / blockSize == UInt64.max // blockCount could not count the final empty block
    for block in blocks {
        let range = machine.byteRange(ofBlock: block)
        fuzzCheck(range.length >= 0 && UInt64(range.length) <= blockSize, "block \(block): length \(range.length)")
        fuzzCheck(range.offset <= size && UInt64(range.length) <= size - range.offset, "block \(block): \(range) past the end of \(size) bytes")
        if block >= 1, block < blockCount || (block == blockCount && !saturated) {
            let offset = (block - 1) * blockSize
            fuzzCheck(range.offset == offset, "block \(block): offset \(range.offset), expected \(offset)")
            let expectedLength = block < blockCount ? blockSize : size % blockSize
            fuzzCheck(UInt64(range.length) == expectedLength, "block \(block) of \(blockCount): length \(range.length), expected \(expectedLength)")
        } else if block == 0 || block > blockCount {
            fuzzCheck(range.length == 0, "block \(block) outside 1...\(blockCount) has length \(range.length)")
        }
    }
}
