import TFTPProtocol
import VolleyReactor
import VolleySystem

/// The transfer's behaviour: feed datagrams and timer expiries to the state machine and
/// carry out what it asks for.
extension ReadTransfer {
    /// Sends the first packet (OACK or DATA 1) and arms the retransmission timer.
    func start(in environment: TransferEnvironment) {
        environment.emit(.transferStarted(description))
        perform(machine.start(now: environment.reactor.now), in: environment)
    }

    /// Reads one datagram from the transfer's own socket: an ACK, an error or a stranger's.
    ///
    /// One per readiness event: the reactor's epoll is level-triggered, so anything still
    /// waiting is reported again on the next turn, and the usual case (one ACK) costs no
    /// second, empty attempt inside `recvmmsg`.
    func drainSocket(into batch: DatagramReceiveBatch, in environment: TransferEnvironment) {
        guard !finished else { return }
        do {
            guard try batch.receive(from: socket.descriptor, maximum: 1) == 1 else { return }
        } catch {
            environment.logger.debug("receive on transfer to \(peer) failed: \(error)")
            return
        }
        handleDatagram(0, of: batch, in: environment)
    }

    /// Handles datagram `index` of `batch`, received on this transfer's own socket: the
    /// client's goes to the state machine, a stranger's gets ERROR 5. Nothing once finished.
    func handleDatagram(_ index: Int, of batch: DatagramReceiveBatch, in environment: TransferEnvironment) {
        guard !finished, let sender = batch.source(index) else { return }
        guard TransferIdentity.isExpected(sender, expected: peer) else {
            answerStranger(sender, in: environment)
            return
        }
        receive(batch.payload(index), in: environment)
    }

    /// Whether `bytes` is a read request other than the one that started this transfer: the
    /// client started over from the same port, and the request is a new transfer's.
    func isNewRequest(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard TFTPPacketDecoder.opcode(of: bytes) == .readRequest,
            case .readRequest(let other)? = try? TFTPPacketDecoder.decode(bytes)
        else { return false }
        return other != request
    }

    /// Feeds one datagram from the client to the state machine, stamped with the loop's time.
    func receive(_ bytes: UnsafeRawBufferPointer, in environment: TransferEnvironment) {
        let action: ReadTransferAction
        let now = environment.reactor.now
        if let block = TFTPPacketDecoder.acknowledgedBlock(in: bytes) {
            action = machine.receiveAcknowledgement(block, now: now)
        } else if let packet = try? TFTPPacketDecoder.decode(bytes) {
            if case .readRequest = packet { answerRepeatedRequest(in: environment) }
            action = machine.receive(packet, now: now)
        } else {
            return
        }
        perform(action, in: environment)
    }

    /// The client sent its request again: it did not hear our OACK, so it gets it again (a
    /// lost DATA 1 is covered by the timer instead).
    func answerRepeatedRequest(in environment: TransferEnvironment) {
        guard machine.isAwaitingOptionAcknowledgementReply, let optionAcknowledgement else { return }
        environment.outbox.sendNow(optionAcknowledgement, on: socket.descriptor, to: peer, from: source)
        // The timer's patience counts from this OACK too: otherwise a timer due about now
        // sends a second one right behind it, and atftp, which has answered the first with
        // ACK 0, aborts on the second ("unexpected OACK").
        optionAcknowledgementSentAt = environment.reactor.now
    }

    /// The retransmission timer fired.
    func timerFired(in environment: TransferEnvironment) {
        timer = nil
        guard !finished else { return }
        perform(machine.timerExpired(now: environment.reactor.now), in: environment)
    }

    /// Ends the transfer: stops its timer and socket, reports it, and leaves the table
    /// (which releases the socket and the file).
    func finish(_ outcome: TransferOutcome, in environment: TransferEnvironment) {
        guard !finished else { return }
        finished = true
        if let timer { environment.reactor.cancelTimer(timer) }
        timer = nil
        if !sharesListenerSocket { environment.reactor.deregister(socket.descriptor) }
        let duration = Double(max(1, environment.reactor.now &- startedAt)) / 1000
        environment.logger.debug("\(peer) round trip: \(roundTripSummary)")
        environment.emit(
            .transferFinished(
                TransferReport(
                    transfer: description, outcome: outcome, bytesSent: bytesSent,
                    durationSeconds: duration, retransmissions: machine.retransmissionCount)))
        environment.transferEnded(self)
    }

    /// Reports how far the transfer has come, at most once per ``progressIntervalMilliseconds``.
    /// Called after each window goes out, so only a transfer that advances reports.
    private func reportProgressIfDue(in environment: TransferEnvironment) {
        let now = environment.reactor.now
        guard now &- progressReportedAt >= Self.progressIntervalMilliseconds else { return }
        progressReportedAt = now
        let acknowledged = machine.highestAcknowledgedBlock &* UInt64(negotiated.blockSize)
        environment.emit(
            .transferProgress(
                TransferProgress(
                    transfer: description,
                    bytesAcknowledged: machine.transferSize.map { min($0, acknowledged) } ?? acknowledged,
                    bytesSent: bytesSent, elapsedSeconds: Double(now &- startedAt) / 1000,
                    retransmissions: machine.retransmissionCount)))
    }

    /// The timeout state for the debug log: the estimate (RFC 6298), or why there is none.
    private var roundTripSummary: String {
        let timeout = "timeout \(machine.retransmissionTimeoutMilliseconds) ms"
        guard machine.retransmission.isAdaptive else { return "\(timeout), fixed (negotiated)" }
        guard let smoothed = machine.roundTrip.smoothedMicroseconds else { return "\(timeout), not measured" }
        let variation = machine.roundTrip.variationMicroseconds
        return
            "srtt \(Double(smoothed) / 1000) ms, rttvar \(Double(variation) / 1000) ms from \(machine.roundTrip.sampleCount) samples, \(timeout)"
    }

    // MARK: - Carrying out actions

    private func perform(_ action: ReadTransferAction, in environment: TransferEnvironment) {
        switch action {
        case .wait:
            return
        case .sendOptionAcknowledgement:
            // The OACK goes out again on the timer only after the client's own timer had its
            // chance (its negotiated timeout, else 5 s): a client whose ACK 0 was lost re-sends
            // that ACK itself, and atftp aborts on an OACK it did not ask for. A repeated
            // request brings it at once (answerRepeatedRequest).
            let now = environment.reactor.now
            let patience = UInt64(negotiated.timeoutSeconds.map { $0 * 1000 } ?? 5000)
            if let optionAcknowledgement, optionAcknowledgementSentAt.map({ now &- $0 >= patience }) ?? true {
                environment.outbox.sendNow(optionAcknowledgement, on: socket.descriptor, to: peer, from: source)
                optionAcknowledgementSentAt = now
            }
            armTimer(in: environment)
        case .sendBlocks(let first, let count):
            do {
                try sendBlocks(first: first, count: count, in: environment)
            } catch let failure as TransferFailure {
                abort(failure, in: environment)
                return
            } catch {
                abort(TransferFailure(clientMessage: "Read error", logDetail: "\(error)"), in: environment)
                return
            }
            armTimer(in: environment)
            reportProgressIfDue(in: environment)
        case .finished(let outcome):
            finish(TransferOutcome(outcome), in: environment)
        }
    }

    /// (Re)arms the one retransmission timer after a send, with the machine's current timeout (the round-trip
    /// estimate, or the negotiated timeout, backed off by timeouts in a row).
    private func armTimer(in environment: TransferEnvironment) {
        let timeout = machine.currentTimeoutMilliseconds
        if let timer, environment.reactor.rearmTimer(timer, afterMilliseconds: timeout) { return }
        // Strong: the pending timer keeps the transfer, and finish() cancels it. A weak
        // reference would give every transfer a side table and slow each retain and release.
        timer = environment.reactor.addTimer(afterMilliseconds: timeout) { [unowned environment] in
            self.timerFired(in: environment)
        }
    }

    /// Builds the window and queues it; the outbox sends it before the loop waits again.
    /// An octet window of full blocks of a mapped file is sent from the mapping; any other
    /// window (the final one, netascii, small files) is built in the shared arena, with one
    /// `preadv` for octet and block by block for netascii.
    private func sendBlocks(first: UInt64, count: Int, in environment: TransferEnvironment) throws {
        if netascii == nil, let mapping = file.mapping, let offset = mappedOffset(first: first, count: count, in: mapping) {
            try sendMappedBlocks(first: first, count: count, from: mapping, at: offset, in: environment)
            return
        }
        let blockSize = negotiated.blockSize
        let stride = WindowBuffer.stride(blockSize: blockSize)
        let window = environment.outbox.window
        let slots = environment.outbox.reserveWindow(blockSize: blockSize, count: count)
        var sending = count
        if var source = netascii {
            source.forget(upTo: machine.highestAcknowledgedBlock)
            for i in 0..<count {
                let length = try source.produce(
                    block: first + UInt64(i), blockSize: blockSize, from: file.descriptor,
                    into: slots + i * stride + TFTPPacketEncoder.dataHeaderSize, scratch: environment.netasciiScratch)
                window.setLength(length, at: i)
                if length < blockSize {
                    // The converted size is learned here: this is the last block.
                    _ = machine.endOfData(atBlock: first + UInt64(i))
                    sending = i + 1
                    break
                }
            }
            netascii = source
        } else {
            let machine = machine
            let offset = machine.byteRange(ofBlock: first).offset
            let complete = try window.readBlocks(into: slots, from: file.descriptor, offset: offset, blockSize: blockSize, count: count) {
                machine.byteRange(ofBlock: first + UInt64($0)).length
            }
            guard complete else {
                throw TransferFailure(clientMessage: "File changed during transfer", logDetail: "file shrank while being sent")
            }
        }
        try checkFileUnchanged(finalWindow: window.lengths[sending - 1] < blockSize, now: environment.reactor.now)
        var payloadBytes = 0
        for i in 0..<sending {
            TFTPPacketEncoder.writeDataHeader(block: ReadTransferStateMachine.wireBlockNumber(first + UInt64(i)), to: slots + i * stride)
            payloadBytes += window.lengths[i]
        }
        environment.outbox.queueWindow(slots, count: sending, blockSize: blockSize, on: socket, to: peer, from: source)
        bytesSent += UInt64(payloadBytes)
    }

    /// The mapping offset of the window's first block when every block of the window is a
    /// full one inside the mapping; nil when the window holds the file's final (short or
    /// empty) block, which is read instead.
    private func mappedOffset(first: UInt64, count: Int, in mapping: FileMapping) -> Int? {
        let last = machine.byteRange(ofBlock: first + UInt64(count - 1))
        guard last.length == negotiated.blockSize, last.offset + UInt64(last.length) <= UInt64(mapping.length) else { return nil }
        return Int(machine.byteRange(ofBlock: first).offset)
    }

    /// Queues a window of full blocks straight from the file's mapping: no read, one copy.
    /// The final window never goes this way: it is read, then the file's status is checked,
    /// which proves every block before it was the file as opened (``checkFileUnchanged``).
    private func sendMappedBlocks(
        first: UInt64, count: Int, from mapping: FileMapping, at offset: Int, in environment: TransferEnvironment
    ) throws {
        try checkFileUnchanged(finalWindow: false, now: environment.reactor.now)
        let blockSize = negotiated.blockSize
        let headers = environment.outbox.reserveHeaders(count: count)
        for i in 0..<count {
            let block = ReadTransferStateMachine.wireBlockNumber(first + UInt64(i))
            TFTPPacketEncoder.writeDataHeader(block: block, to: headers + i * TFTPPacketEncoder.dataHeaderSize)
        }
        environment.outbox.queueMappedWindow(
            headers: headers, mapping: mapping, offset: offset, count: count, blockSize: blockSize,
            on: socket, to: peer, from: source)
        bytesSent += UInt64(count * blockSize)
    }

    /// Aborts when the file was rewritten in place since it was opened. The status is read
    /// (`fstat`) at most once a second, to stop sending a changed file early, and always
    /// after reading the final block: an unchanged status then proves that no write happened
    /// since the open, so every block sent was the old content. Checking every block would
    /// add a system call per block in lockstep for no gain in what a client can complete.
    private func checkFileUnchanged(finalWindow: Bool, now: UInt64) throws {
        guard finalWindow || now &- fileCheckedAt >= Self.fileCheckIntervalMilliseconds else { return }
        fileCheckedAt = now
        if try file.hasChanged() {
            throw TransferFailure(clientMessage: "File changed during transfer", logDetail: "file was modified while being sent")
        }
    }

    /// RFC 1350: a packet from an unknown TID gets ERROR 5; the transfer goes on.
    private func answerStranger(_ sender: SocketAddress, in environment: TransferEnvironment) {
        environment.outbox.sendNow(TransferIdentity.unknownTransferIDReply, on: socket.descriptor, to: sender)
        environment.logger.debug("answered a packet from unknown \(sender) during the transfer to \(peer) with ERROR 5")
    }

    private func abort(_ failure: TransferFailure, in environment: TransferEnvironment) {
        environment.outbox.sendNow(
            TFTPPacketEncoder.error(.notDefined, failure.clientMessage), on: socket.descriptor, to: peer, from: source)
        finish(.failed(reason: failure.logDetail), in: environment)
    }
}

/// Why a transfer had to be abandoned: a safe text for the client and a detail for the log.
struct TransferFailure: Error {
    let clientMessage: String
    let logDetail: String
}

extension TransferOutcome {
    /// The outcome the protocol core reported.
    init(_ outcome: ReadTransferOutcome) {
        switch outcome {
        case .delivered: self = .delivered
        case .sizeProbe: self = .sizeProbe
        case .abortedByClient(let code, let message): self = .abortedByClient(code: code.rawValue, message: message)
        case .timedOut(let retransmissions): self = .timedOut(retransmissions: retransmissions)
        }
    }
}
