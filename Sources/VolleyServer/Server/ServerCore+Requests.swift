import Glibc
import Logging
import TFTPProtocol
import VolleyReactor

extension ServerCore {
    /// Reads every waiting request on a listening socket, in batches.
    func drainListener(_ listener: Listener) {
        // Admit everything waiting (bounded only against a flood that never ends): requests left
        // queued behind a full round of transfer work wait past the clients' 1 s timeout.
        for _ in 0..<256 {
            let count: Int
            do {
                count = try receiveBatch.receive(from: listener.descriptor)
            } catch {
                logger.warning("receiving requests on \(listener.address) failed: \(error)")
                return
            }
            if count == 0 { return }
            // In single-port mode the windows answering this batch's ACKs go out in one flush.
            deferringSends = configuration.singlePort
            defer {
                deferringSends = false
                flushSends()
            }
            for i in 0..<count {
                guard let client = receiveBatch.source(i) else { continue }
                if configuration.singlePort, let slot = slotByPeer[client], let transfer = transfers[slot] {
                    handleTransferDatagram(receiveBatch.payload(i), on: transfer, slot: slot)
                    continue
                }
                let info = receiveBatch.packetInfo(i)
                if receiveBatch.isTruncated(i) {
                    refuse(client, via: listener, info: info, .illegalOperation, "Request too long")
                    continue
                }
                handleDatagram(receiveBatch.payload(i), from: client, via: listener, info: info)
            }
            if count < receiveBatch.capacity { return }
        }
    }

    private func handleDatagram(_ bytes: UnsafeRawBufferPointer, from client: SocketAddress, via listener: Listener, info: PacketInfo?) {
        let packet: TFTPPacket
        do {
            packet = try TFTPPacketDecoder.decode(bytes)
        } catch {
            // Never answer what might itself be an error packet: no ping-pong between servers.
            if TFTPPacketDecoder.opcode(of: bytes) != .error {
                refuse(client, via: listener, info: info, .illegalOperation, "Malformed request: \(error.reason)")
            }
            logger.debug("malformed packet from \(client): \(error.reason)")
            return
        }
        switch packet {
        case .readRequest(let request):
            handleReadRequest(request, from: client, via: listener, info: info)
        case .writeRequest(let request):
            logger.info("refused write of \(request.filename.debugDescription) from \(client): server is read-only")
            refuse(client, via: listener, info: info, .accessViolation, "Server is read-only: writes are not accepted")
        case .error:
            return
        case .data, .acknowledgement, .optionAcknowledgement:
            if configuration.singlePort {
                refuse(client, via: listener, info: info, .unknownTransferID, "Unknown transfer ID")
            } else {
                refuse(client, via: listener, info: info, .illegalOperation, "Expected a read request")
            }
        }
    }

    private func handleReadRequest(_ request: TFTPRequest, from client: SocketAddress, via listener: Listener, info: PacketInfo?) {
        if let slot = slotByPeer[client], transfers[slot] != nil {
            // The client did not hear our first answer yet; our retransmission timer covers it.
            logger.debug("ignored repeated request from \(client) for \(request.filename.debugDescription)")
            return
        }
        guard let mode = request.transferMode else {
            refuse(client, via: listener, info: info, .illegalOperation, "Unsupported transfer mode \"\(request.mode)\"")
            logger.info("refused \(request.filename.debugDescription) to \(client): unsupported mode \(request.mode.debugDescription)")
            return
        }
        guard activeCount < configuration.maximumTransfers else {
            // Dropped, not refused: boot firmware retries a request but gives up on an error.
            if reactor.now &- lastBusyWarning > 1000 {
                lastBusyWarning = reactor.now
                logger.warning("at the limit of \(configuration.maximumTransfers) transfers: dropping new requests until some finish")
            }
            return
        }
        let opened: OpenedFile
        switch root.openForReading(request.filename) {
        case .success(let file):
            opened = file
        case .failure(let failure):
            refuse(client, via: listener, info: info, TFTPErrorCode(rawValue: failure.tftpErrorCode), failure.clientMessage)
            logger.info("refused \(request.filename.debugDescription) to \(client): \(failure.logDetail)")
            return
        }
        do {
            try startTransfer(request, mode: mode, file: opened, client: client, listener: listener, info: info)
        } catch {
            refuse(client, via: listener, info: info, .notDefined, "Server error, try again")
            logger.error("could not start sending \(request.filename.debugDescription) to \(client): \(error)")
        }
    }

    private func startTransfer(
        _ request: TFTPRequest, mode: TransferMode, file: OpenedFile, client: SocketAddress,
        listener: Listener, info: PacketInfo?
    ) throws(SystemError) {
        // Owns `file.descriptor` from here on: closed on failure, shared once adopted.
        let wireSize: UInt64
        let socket: Int32
        do throws(SystemError) {
            wireSize = mode == .netascii
                ? try NetasciiBlockSource.wireSize(of: file.descriptor, fileSize: file.size) : file.size
            socket = configuration.singlePort
                ? listener.descriptor : try UDPSocket.openBound(to: replyAddress(for: client, listener: listener, info: info))
        } catch {
            closeDescriptor(file.descriptor)
            throw error
        }
        let limits = NegotiationLimits(
            maximumBlockSize: configuration.maximumBlockSize, maximumWindowSize: configuration.maximumWindowSize)
        let mtuCap = configuration.clampBlockSizeToInterfaceMTU
            ? info.flatMap { blockSizeCaps.cap(interfaceIndex: $0.interfaceIndex, isIPv6: client.family == AF_INET6 && !client.isV4Mapped) }
            : nil
        let negotiated = OptionNegotiator.negotiate(request.options, limits: limits, transferSize: wireSize, blockSizeCap: mtuCap)
        for note in negotiated.notes {
            logger.info("\(request.filename.debugDescription) to \(client): \(note)")
        }
        let singlePort = configuration.singlePort
        let retransmission = retransmissionPolicy(negotiated)
        let shared = files.adopt(file.descriptor)
        let transfer = ReadTransfer(
            socket: socket, ownsSocket: !singlePort, source: singlePort ? info : nil,
            file: shared.descriptor, fileKey: shared.key, peer: client, fileName: request.filename, mode: mode,
            negotiated: negotiated, wireSize: wireSize, retransmission: retransmission, startedAt: reactor.now)
        let slot = freeSlots.popLast() ?? { transfers.append(nil); return transfers.count - 1 }()
        transfers[slot] = transfer
        slotByPeer[client] = slot
        activeCount += 1
        if !singlePort {
            do {
                try reactor.register(socket) { [unowned self] _ in self.drainTransfer(slot: slot, transfer) }
            } catch {
                transfers[slot] = nil
                freeSlots.append(slot)
                slotByPeer[client] = nil
                activeCount -= 1
                closeDescriptor(socket)
                files.release(shared.descriptor, key: shared.key)
                throw error
            }
        }
        transfer.timer = reactor.addTimer(afterMilliseconds: retransmission.initialTimeoutMilliseconds) { [unowned self] in
            self.timerFired(slot: slot, transfer)
        }
        publishStatistics()
        perform(transfer.machine.start(), on: transfer, slot: slot)
    }

    private func retransmissionPolicy(_ negotiated: NegotiatedTransfer) -> RetransmissionPolicy {
        let initial = negotiated.timeoutSeconds.map { $0 * 1000 } ?? configuration.retransmitTimeoutMilliseconds
        return RetransmissionPolicy(
            initialTimeoutMilliseconds: initial,
            maximumTimeoutMilliseconds: max(initial, configuration.maximumRetransmitTimeoutMilliseconds),
            maximumRetransmissions: configuration.maximumRetransmissions)
    }

    /// The local address replies must leave from: where the request was sent, on a new port.
    private func replyAddress(for client: SocketAddress, listener: Listener, info: PacketInfo?) -> SocketAddress {
        var local = info?.localAddress ?? listener.address
        // A dual-stack socket reports IPv4 destinations of v4-mapped clients as plain IPv4.
        if client.family == AF_INET6 { local = local.mappedToIPv6 }
        local.port = 0
        return local
    }

    /// Answers a request with an ERROR packet from the address it was sent to.
    func refuse(_ client: SocketAddress, via listener: Listener, info: PacketInfo?, _ code: TFTPErrorCode, _ message: String) {
        totals.refusedRequests += 1
        let packet = TFTPPacketEncoder.error(code, message)
        packet.withUnsafeBytes { bytes in
            do {
                try sendBatch.sendOne(descriptor: listener.descriptor, bytes: bytes, to: client, from: info)
            } catch {
                logger.debug("could not send error to \(client): \(error)")
            }
        }
    }
}
