import Glibc
import Logging
import TFTPProtocol
import VolleyReactor

extension ServerCore {
    /// Reads what arrived on a transfer's socket: ACKs, errors, and strangers.
    func drainTransfer(slot: Int, _ transfer: ReadTransfer) {
        while !transfer.finished {
            let count: Int
            do {
                count = try receiveBatch.receive(from: transfer.socket)
            } catch {
                logger.debug("receive on transfer to \(transfer.peer) failed: \(error)")
                return
            }
            if count == 0 { return }
            for i in 0..<count where !transfer.finished {
                guard let sender = receiveBatch.source(i) else { continue }
                guard TransferIdentity.isExpected(sender, expected: transfer.peer) else {
                    answerStranger(sender, on: transfer)
                    continue
                }
                handleTransferDatagram(receiveBatch.payload(i), on: transfer, slot: slot)
            }
            if count < receiveBatch.capacity { return }
        }
    }

    /// Feeds one datagram from the transfer's client to its state machine.
    func handleTransferDatagram(_ bytes: UnsafeRawBufferPointer, on transfer: ReadTransfer, slot: Int) {
        let action: ReadTransferAction
        if let block = TFTPPacketDecoder.acknowledgedBlock(in: bytes) {
            action = transfer.machine.receiveAcknowledgement(block)
        } else if let packet = try? TFTPPacketDecoder.decode(bytes) {
            action = transfer.machine.receive(packet)
        } else {
            return
        }
        perform(action, on: transfer, slot: slot)
    }

    /// RFC 1350: a packet from an unknown TID gets ERROR 5; the transfer goes on.
    private func answerStranger(_ sender: SocketAddress, on transfer: ReadTransfer) {
        TransferIdentity.unknownTransferIDReply.withUnsafeBytes { bytes in
            _ = try? sendBatch.sendOne(descriptor: transfer.socket, bytes: bytes, to: sender)
        }
        logger.debug("answered a packet from unknown \(sender) during the transfer to \(transfer.peer) with ERROR 5")
    }

    func timerFired(slot: Int, _ transfer: ReadTransfer) {
        transfer.timer = nil
        guard !transfer.finished else { return }
        let before = transfer.machine.retransmissionCount
        let action = transfer.machine.timerExpired()
        totals.retransmittedBlocks += UInt64(max(0, transfer.machine.retransmissionCount - before))
        perform(action, on: transfer, slot: slot)
    }

    /// Carries out what the state machine asked for.
    func perform(_ action: ReadTransferAction, on transfer: ReadTransfer, slot: Int) {
        switch action {
        case .wait:
            return
        case .sendOptionAcknowledgement:
            if let oack = transfer.optionAcknowledgement {
                oack.withUnsafeBytes { bytes in
                    _ = try? sendBatch.sendOne(descriptor: transfer.socket, bytes: bytes, to: transfer.peer, from: transfer.source)
                }
            }
            armTimer(transfer, slot: slot)
        case .sendBlocks(let first, let count):
            do {
                try sendBlocks(first: first, count: count, of: transfer)
            } catch let failure as TransferFailure {
                abort(transfer, slot: slot, failure)
                return
            } catch {
                abort(transfer, slot: slot, TransferFailure(clientMessage: "Read error", logDetail: "\(error)"))
                return
            }
            armTimer(transfer, slot: slot)
        case .finished(let outcome):
            let (text, delivered) = describe(outcome)
            finish(transfer, slot: slot, outcome: text, delivered: delivered)
        }
    }

    private func armTimer(_ transfer: ReadTransfer, slot: Int) {
        let timeout = transfer.machine.currentTimeoutMilliseconds
        if let timer = transfer.timer, reactor.rearmTimer(timer, afterMilliseconds: timeout) { return }
        transfer.timer = reactor.addTimer(afterMilliseconds: timeout) { [unowned self] in
            self.timerFired(slot: slot, transfer)
        }
    }

    /// Builds the window in the shared arena (one `preadv` for octet) and queues it for
    /// `sendmmsg`, as GSO super-datagrams where possible; flushed at once unless deferred.
    private func sendBlocks(first: UInt64, count: Int, of transfer: ReadTransfer) throws {
        let blockSize = transfer.negotiated.blockSize
        let stride = WindowBuffer.stride(blockSize: blockSize)
        if !window.fits(blockSize: blockSize, count: count) { flushSends() }
        let slots = window.take(blockSize: blockSize, count: count)
        if var netascii = transfer.netascii {
            netascii.forget(upTo: transfer.machine.highestAcknowledgedBlock)
            for i in 0..<count {
                let length = try netascii.produce(
                    block: first + UInt64(i), blockSize: blockSize, from: transfer.file,
                    into: slots + i * stride + TFTPPacketEncoder.dataHeaderSize, scratch: netasciiScratch)
                window.setLength(length, at: i)
            }
            transfer.netascii = netascii
        } else {
            let machine = transfer.machine
            let offset = machine.byteRange(ofBlock: first).offset
            let complete = try window.readBlocks(into: slots, from: transfer.file, offset: offset, blockSize: blockSize, count: count) {
                machine.byteRange(ofBlock: first + UInt64($0)).length
            }
            guard complete else {
                throw TransferFailure(clientMessage: "File changed during transfer", logDetail: "file shrank while being sent")
            }
        }
        var payloadBytes = 0
        for i in 0..<count {
            TFTPPacketEncoder.writeDataHeader(block: ReadTransferStateMachine.wireBlockNumber(first + UInt64(i)), to: slots + i * stride)
            payloadBytes += window.lengths[i]
        }
        queueWindow(slots, count: count, blockSize: blockSize, of: transfer)
        transfer.bytesSent += UInt64(payloadBytes)
        totals.bytesSent += UInt64(payloadBytes)
        if !deferringSends { flushSends() }
    }

    /// Queues a built window: runs of full blocks become one GSO message each (the slots are
    /// contiguous, so a run is one buffer); otherwise one message per block.
    private func queueWindow(_ slots: UnsafeMutableRawPointer, count: Int, blockSize: Int, of transfer: ReadTransfer) {
        let stride = WindowBuffer.stride(blockSize: blockSize)
        let perSend = useSegmentationOffload
            ? min(DatagramSendBatch.maximumSegmentsPerSend, DatagramSendBatch.maximumSendBytes / stride) : 1
        var i = 0
        while i < count {
            var run = 1
            if perSend > 1 {
                // Only the last segment of a GSO send may be short: that is only ever the file's last block.
                while run < perSend, i + run < count, window.lengths[i + run - 1] == blockSize { run += 1 }
            }
            let bytes = (run - 1) * stride + TFTPPacketEncoder.dataHeaderSize + window.lengths[i + run - 1]
            if let early = sendBatch.enqueue(
                descriptor: transfer.socket, to: transfer.peer, from: transfer.source,
                bytes: slots + i * stride, count: bytes, segmentSize: run > 1 ? stride : nil) {
                note(early)
            }
            i += run
        }
    }

    /// Sends everything queued and frees the arena.
    func flushSends() {
        if sendBatch.pendingCount > 0 { note(sendBatch.flush()) }
        window.reset()
    }

    private func note(_ result: DatagramSendBatch.Result) {
        if result.segmentationUnsupported, useSegmentationOffload {
            useSegmentationOffload = false
            logger.notice("the kernel refused a UDP GSO send (\(result.firstError.map { "\($0)" } ?? "unknown")): sending windows without segmentation offload from now on")
        } else if let error = result.firstError {
            logger.debug("send failed: \(error)")
        }
    }

    private func abort(_ transfer: ReadTransfer, slot: Int, _ failure: TransferFailure) {
        TFTPPacketEncoder.error(.notDefined, failure.clientMessage).withUnsafeBytes { bytes in
            _ = try? sendBatch.sendOne(descriptor: transfer.socket, bytes: bytes, to: transfer.peer, from: transfer.source)
        }
        finish(transfer, slot: slot, outcome: "failed: \(failure.logDetail)", delivered: false)
    }

    /// Frees everything the transfer held and logs its one line.
    func finish(_ transfer: ReadTransfer, slot: Int, outcome: String, delivered: Bool) {
        guard !transfer.finished else { return }
        transfer.finished = true
        if let timer = transfer.timer { reactor.cancelTimer(timer) }
        transfer.timer = nil
        if transfer.ownsSocket {
            reactor.deregister(transfer.socket)
            closeDescriptor(transfer.socket)
        }
        files.release(transfer.file, key: transfer.fileKey)
        transfers[slot] = nil
        freeSlots.append(slot)
        if slotByPeer[transfer.peer] == slot { slotByPeer[transfer.peer] = nil }
        activeCount -= 1
        if delivered { totals.completedTransfers += 1 } else { totals.endedTransfers += 1 }
        publishStatistics()
        logger.info("\(TransferLogLine(transfer, outcome: outcome, now: reactor.now))")
    }

    private func describe(_ outcome: ReadTransferOutcome) -> (String, Bool) {
        switch outcome {
        case .delivered: ("delivered", true)
        case .sizeProbe: ("size probe: client read tsize and ended the transfer (normal for UEFI)", false)
        case .abortedByClient(let code, let message): ("aborted by client: error \(code.rawValue) \(message.debugDescription)", false)
        case .timedOut(let retransmissions): ("timed out: no answer after \(retransmissions) retransmissions", false)
        }
    }
}

/// Why a transfer had to be abandoned: a safe text for the client and a detail for the log.
struct TransferFailure: Error {
    let clientMessage: String
    let logDetail: String
}
