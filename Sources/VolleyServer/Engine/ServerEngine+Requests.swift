import TFTPProtocol
import VolleySystem

extension ServerEngine {
    /// Reads every waiting datagram on a listening socket, in batches: requests, and in
    /// single-port mode the ACKs of the transfers that run over it.
    func drain(_ listener: Listener) {
        // Admit everything waiting (bounded only against a flood that never ends): requests left
        // queued behind a full round of transfer work wait past the clients' 1 s timeout.
        for _ in 0..<256 {
            let count: Int
            do {
                count = try receiveBatch.receive(from: listener.socket.descriptor)
            } catch {
                logger.warning("receiving requests on \(listener.address) failed: \(error)")
                return
            }
            if count == 0 { return }
            for i in 0..<count {
                guard let client = receiveBatch.source(i) else { continue }
                // Routed by the transfer's own mode, not the current setting: a reload that
                // turns single-port off must not cut off transfers already running over it.
                if let transfer = table.transfer(for: client), transfer.sharesListenerSocket,
                    !transfer.isNewRequest(receiveBatch.payload(i))
                {
                    transfer.receive(receiveBatch.payload(i), in: environment)
                    continue
                }
                let info = receiveBatch.packetInfo(i)
                if receiveBatch.isTruncated(i) {
                    refuse(
                        client, via: listener, info: info, file: nil, .malformed, .illegalOperation, "Request too long",
                        detail: "datagram longer than \(receiveBatch.bufferSize) bytes")
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
                refuse(
                    client, via: listener, info: info, file: nil, .malformed, .illegalOperation, "Malformed request: \(error.reason)",
                    detail: error.reason)
            }
            return
        }
        switch packet {
        case .readRequest(let request):
            handleReadRequest(request, from: client, via: listener, info: info)
        case .writeRequest(let request):
            refuse(
                client, via: listener, info: info, file: request.filename, .writeRequest, .accessViolation,
                "Server is read-only: writes are not accepted", detail: "write request: the server is read-only")
        case .error:
            return
        case .data, .acknowledgement, .optionAcknowledgement:
            if table.transfer(for: client) == nil, configuration.singlePort {
                refuse(
                    client, via: listener, info: info, file: nil, .unexpectedPacket, .unknownTransferID, "Unknown transfer ID",
                    detail: "no transfer with this client")
            } else {
                refuse(
                    client, via: listener, info: info, file: nil, .unexpectedPacket, .illegalOperation, "Expected a read request",
                    detail: "not a request")
            }
        }
    }

    private func handleReadRequest(_ request: TFTPRequest, from client: SocketAddress, via listener: Listener, info: PacketInfo?) {
        if let transfer = table.transfer(for: client) {
            if transfer.request == request {
                // The client did not hear our first answer yet: an OACK goes out again now, a
                // DATA 1 with the retransmission timer.
                logger.debug("repeated request from \(client) for \(request.filename.debugDescription)")
                transfer.answerRepeatedRequest(in: environment)
                return
            }
            // Another request from the same address and port: the client started over (a new
            // process got the port, or the firmware retried with other options). The old
            // transfer is over; answering the new request with the old one's OACK would be wrong.
            logger.debug(
                "new request from \(client) for \(request.filename.debugDescription) ends its transfer of \(transfer.request.filename.debugDescription)"
            )
            transfer.finish(.abortedByClient(code: 0, message: "superseded by a new request from the same port"), in: environment)
        } else if let owner = admission.reactor(serving: client), owner != reactorIndex {
            // Reactors sharing one socket (systemd passed one): a repeated request woke another
            // reactor than the one serving it. That one's retransmission timer answers it.
            logger.debug("repeated request from \(client) for \(request.filename.debugDescription): served by reactor \(owner)")
            return
        }
        switch admission.decide(request, from: client.ipString, now: reactor.now) {
        case .admit:
            break
        case .refuse(let reason, let code, let message, let detail):
            refuse(client, via: listener, info: info, file: request.filename, reason, code, message, detail: detail)
            return
        case .drop(let reason, let detail):
            drop(request, from: client, reason, detail: detail)
            return
        }
        switch resolver.resolve(name: request.filename, nameBytes: request.filenameBytes, client: client, now: reactor.now) {
        case .success(let resolved):
            serve(request, from: client, via: listener, info: info, resolved: resolved, allowOrigin: resolver.origin != nil)
        case .failure(let failure):
            refuse(
                client, via: listener, info: info, file: request.filename, failure.refusalReason,
                TFTPErrorCode(rawValue: failure.tftpErrorCode), failure.clientMessage, detail: failure.logDetail)
        }
    }

    /// Reports a request that gets no answer (the client retries), with a warning at most once a second.
    private func drop(_ request: TFTPRequest, from client: SocketAddress, _ reason: RefusalReason, detail: String) {
        switch reason {
        // Each warning names the setting to raise: the per-client limits count per address, so
        // a NAT'd lab segment, where every board has one address, reaches them first.
        case .atCapacity:
            warnAtMostOncePerSecond(
                "capacity",
                "at the limit of \(configuration.maximumTransfers) transfers: dropping new requests until some finish (max_transfers)")
        case .clientAtCapacity:
            warnAtMostOncePerSecond(
                reason.rawValue,
                "dropping requests: \(detail) (max_transfers_per_client counts per address: raise it, or 0 for no limit, when many boards share one address behind NAT)"
            )
        case .rateLimited:
            warnAtMostOncePerSecond(
                reason.rawValue,
                "dropping requests: \(detail) (request_rate_per_client counts per address: raise it, or 0 for no limit, when many boards share one address behind NAT)"
            )
        default:
            break
        }
        environment.emit(
            .requestRefused(
                RefusedRequest(
                    client: client.description, fileName: request.filename, reason: reason, errorCode: nil, detail: detail,
                    mac: resolver.recentMAC(of: client, now: reactor.now))))
    }

    /// Opens the resolved file and starts the transfer. A name missing from the root goes
    /// to the cache, then to the origin (`allowOrigin`), when one is configured.
    func serve(
        _ request: TFTPRequest, from client: SocketAddress, via listener: Listener, info: PacketInfo?,
        resolved: ResolvedName, allowOrigin: Bool
    ) {
        let file: OpenFile
        switch resolver.open(resolved, allowOrigin: allowOrigin) {
        case .opened(let opened):
            file = files.adopt(opened)
        case .fromOrigin(let name):
            park(
                ParkedRequest(
                    request: request, client: client, listener: listener, info: info, rule: resolved.rule, options: resolved.options),
                name: name)
            return
        case .refused(let failure):
            if failure.kind == .resourcesExhausted {
                warnAtMostOncePerSecond(
                    "busy",
                    "out of descriptors or memory opening files (\(failure.logDetail)): answering new requests with \"Server busy\" until some transfers end"
                )
            }
            refuse(
                client, via: listener, info: info, file: request.filename, failure.refusalReason,
                TFTPErrorCode(rawValue: failure.tftpErrorCode), failure.clientMessage,
                detail: failure.logDetail + (resolved.rule.map { " (rule \($0))" } ?? ""))
            return
        }
        do {
            try startTransfer(request, file: file, client: client, listener: listener, info: info, rule: resolved)
        } catch {
            files.release(file)
            let busy = FileAccessError.Kind(error.errno) == .resourcesExhausted
            if busy {
                warnAtMostOncePerSecond(
                    "busy", "out of descriptors or memory (\(error)): answering new requests with \"Server busy\" until some transfers end")
            }
            refuse(
                client, via: listener, info: info, file: request.filename, .serverError, .notDefined,
                busy ? "Server busy, try again" : "Server error, try again", detail: "cannot start the transfer: \(error)")
        }
    }

    private func startTransfer(
        _ request: TFTPRequest, file: OpenFile, client: SocketAddress, listener: Listener, info: PacketInfo?,
        rule: ResolvedName
    ) throws(SystemError) {
        let mode = request.transferMode ?? .octet
        let wireSize =
            mode == .netascii
            ? try NetasciiBlockSource.wireSize(of: file.descriptor, fileSize: file.size) : file.size
        let singlePort = configuration.singlePort
        let socket =
            singlePort
            ? listener.socket : try DatagramSocket.bound(to: replyAddress(for: client, listener: listener, info: info))
        let limits = NegotiationLimits(
            maximumBlockSize: min(configuration.maximumBlockSize, rule.options.maximumBlockSize ?? .max),
            maximumWindowSize: min(configuration.maximumWindowSize, rule.options.maximumWindowSize ?? .max))
        let mtuCap =
            configuration.clampBlockSizeToInterfaceMTU
            ? info.flatMap { blockSizeCaps.cap(interfaceIndex: $0.interfaceIndex, isIPv6: client.family == .ipv6 && !client.isV4Mapped) }
            : nil
        var options = request.options
        if rule.options.neverSendTransferSize, let rule = rule.rule {
            options.removeAll { $0.name.lowercased() == "tsize" }
            logger.debug("\(request.filename.debugDescription) to \(client): tsize not offered (rule \(rule))")
        }
        let negotiated = OptionNegotiator.negotiate(options, limits: limits, transferSize: wireSize, blockSizeCap: mtuCap)
        for note in negotiated.notes {
            logger.info("\(request.filename.debugDescription) to \(client): \(note)")
        }
        let transfer = ReadTransfer(
            socket: socket, sharesListenerSocket: singlePort, source: singlePort ? info : nil,
            file: file, peer: client, request: request, mode: mode,
            negotiated: negotiated, wireSize: wireSize, retransmission: retransmissionPolicy(negotiated, rule: rule.options),
            startedAt: reactor.now, rule: rule.rule, servedName: rule.servedName, mac: resolver.recentMAC(of: client, now: reactor.now))
        let client = transfer.description.clientAddress
        switch admission.claimTransfer(peer: transfer.peer, client: client, reactor: reactorIndex, overListener: singlePort) {
        case .admit:
            break
        case .drop(let reason, let detail), .refuse(let reason, _, _, let detail):
            // Another reactor took the last place since this request was admitted.
            files.release(file)
            drop(request, from: transfer.peer, reason, detail: detail)
            return
        }
        do {
            try launch(transfer)
        } catch {
            admission.transferEnded(peer: transfer.peer, client: client, reactor: reactorIndex, overListener: singlePort)
            throw error
        }
    }

    /// The timeout adapts to the transfer's measured round trip (RFC 6298), starting from
    /// `retransmit_timeout_ms`. A `timeout` the client negotiated (RFC 2349) is the ceiling:
    /// we never wait longer than it asked, but we do not wait for it either. U-Boot asks for
    /// 5 s and curl for 6 s, and both recover from a lost datagram only as fast as the
    /// server's timer (U-Boot gives up after 10 of its own timeouts; see Tests/qemu/README.md).
    private func retransmissionPolicy(_ negotiated: NegotiatedTransfer, rule: RuleOptions) -> RetransmissionPolicy {
        let ceiling = negotiated.timeoutSeconds.map { $0 * 1000 } ?? configuration.maximumRetransmitTimeoutMilliseconds
        var policy = RetransmissionPolicy(
            initialTimeoutMilliseconds: min(rule.retransmitTimeoutMilliseconds ?? configuration.retransmitTimeoutMilliseconds, ceiling),
            maximumTimeoutMilliseconds: ceiling,
            maximumRetransmissions: configuration.maximumRetransmissions,
            isAdaptive: true)
        policy.minimumTimeoutMilliseconds = configuration.minimumRetransmitTimeoutMilliseconds
        return policy
    }

    /// The local address replies must leave from: where the request was sent, on a new port.
    private func replyAddress(for client: SocketAddress, listener: Listener, info: PacketInfo?) -> SocketAddress {
        var local = info?.localAddress ?? listener.address
        // A dual-stack socket reports IPv4 destinations of v4-mapped clients as plain IPv4.
        if client.family == .ipv6 { local = local.mappedToIPv6 }
        local.port = 0
        return local
    }

    /// Answers a request with an ERROR packet from the address it was sent to, and reports
    /// it; beyond the error-reply rate limits the ERROR is not sent (reflection).
    func refuse(
        _ client: SocketAddress, via listener: Listener, info: PacketInfo?, file: String?,
        _ reason: RefusalReason, _ code: TFTPErrorCode, _ message: String, detail: String
    ) {
        var refusal = RefusedRequest(
            client: client.description, fileName: file, reason: reason, errorCode: code.rawValue, detail: detail,
            mac: resolver.recentMAC(of: client, now: reactor.now))
        if admission.mayReplyWithError(to: client.ipString, now: reactor.now) {
            environment.outbox.sendNow(TFTPPacketEncoder.error(code, message), on: listener.socket.descriptor, to: client, from: info)
        } else {
            refusal.errorCode = nil
            refusal.replySuppressed = true
            warnAtMostOncePerSecond(
                "error-replies",
                "error-reply limit reached (\(admission.limits.errorRepliesPerSecondPerClient)/s per client, \(admission.limits.errorRepliesPerSecond)/s in total): not answering some bad requests, e.g. from \(client.ipString)"
            )
        }
        environment.emit(.requestRefused(refusal))
    }
}
