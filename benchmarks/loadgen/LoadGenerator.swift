import Glibc
import TFTPProtocol
import VolleyReactor
import VolleySystem

/// Runs every client of one configuration on one reactor thread (the caller's) and collects the results.
///
/// Hot path: one recvmmsg per ready socket into a shared batch, a memcmp per DATA payload against
/// the mapped file, an ACK written into a 4-byte reused buffer, the client's timer re-armed. No
/// allocation per packet.
final class LoadGenerator {
    let configuration: LoadConfiguration
    let reference: ReferenceFile
    private let reactor: Reactor
    private(set) var clients: [ClientRecord]
    private(set) var counters = TrafficCounters()
    /// Monotonic nanoseconds of the first RRQ and of the last client's end.
    private(set) var firstRequestNanoseconds: UInt64 = 0
    private(set) var lastEndNanoseconds: UInt64 = 0

    private let receiveBatch = DatagramReceiveBatch(capacity: 64, bufferSize: 65536 + 4)
    private let sendBatch = DatagramSendBatch(capacity: 1)
    private let acknowledgement = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 4)
    private let request: UnsafeMutableRawBufferPointer
    private let optionCheck: OptionAcknowledgementCheck
    private var launched = 0
    private var active = 0
    private var pacer: TimerID?
    private var deadline: TimerID?
    private var onStart: (() -> Void)?

    /// Maps the reference file, creates the reactor and one socket per client (none sends yet).
    init(configuration: LoadConfiguration) throws {
        self.configuration = configuration
        reference = try ReferenceFile(path: configuration.localPath)
        reactor = try Reactor(initialEventCapacity: 1024)
        let requestBytes = configuration.readRequest
        request = .allocate(byteCount: requestBytes.count, alignment: 1)
        request.copyBytes(from: requestBytes)
        acknowledgement.copyBytes(from: [0, UInt8(TFTPOpcode.acknowledgement.rawValue), 0, 0])
        optionCheck = OptionAcknowledgementCheck(
            requestedBlockSize: configuration.sendOptions ? configuration.blockSize : 512,
            requestedWindowSize: configuration.sendOptions ? configuration.windowSize : 1,
            requestedTransferSize: configuration.sendOptions && configuration.requestTransferSize,
            fileSize: reference.size)
        clients = Array(repeating: ClientRecord(), count: configuration.clients)
        do {
            for id in 0..<configuration.clients { try openSocket(for: id) }
        } catch {
            closeAll()
            throw error
        }
    }

    deinit {
        closeAll()
        request.deallocate()
        acknowledgement.deallocate()
    }

    /// Sends the RRQs (all at once or paced over the ramp) and runs until every client ended
    /// or the deadline passed. `onStart` runs right before the first RRQ.
    func run(onStart: @escaping () -> Void) {
        self.onStart = onStart
        reactor.runOnce(maximumWaitMilliseconds: 0)  // refresh the loop's clock after socket setup
        deadline = reactor.addTimer(afterMilliseconds: configuration.deadlineSeconds * 1000) { [unowned self] in
            self.deadlinePassed()
        }
        if configuration.rampMilliseconds == 0 {
            launch(upTo: configuration.clients)
        } else {
            launch(upTo: 1)
            pacer = reactor.addTimer(afterMilliseconds: 1) { [unowned self] in self.pace() }
        }
        if launched < configuration.clients || active > 0 { reactor.run() }
        if lastEndNanoseconds == 0 { lastEndNanoseconds = Self.nanoseconds() }
        if let deadline { reactor.cancelTimer(deadline) }
        if let pacer { reactor.cancelTimer(pacer) }
    }

    /// Monotonic nanoseconds.
    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    // MARK: - Setup

    private func openSocket(for id: Int) throws {
        let fd = try UDPSocket.open(family: configuration.server.family).release()
        clients[id].descriptor = fd
        if let bytes = configuration.receiveBufferBytes {
            try UDPSocket.setReceiveBufferSize(fd, bytes: bytes)
        }
        try reactor.register(fd) { [unowned self] _ in self.drain(id) }
    }

    private func closeAll() {
        for id in clients.indices { closeSocket(of: id) }
    }

    /// Stops watching and closes client `id`'s socket, if it is open.
    private func closeSocket(of id: Int) {
        guard let descriptor = clients[id].descriptor else { return }
        reactor.deregister(descriptor)
        OwnedDescriptor.close(descriptor)
        clients[id].descriptor = nil
    }

    // MARK: - Starting

    private func pace() {
        pacer = nil
        let elapsed = Double(Self.nanoseconds() - firstRequestNanoseconds) / 1e6
        let due = Int(elapsed / Double(configuration.rampMilliseconds) * Double(configuration.clients)) + 1
        launch(upTo: min(due, configuration.clients))
        if launched < configuration.clients {
            pacer = reactor.addTimer(afterMilliseconds: 1) { [unowned self] in self.pace() }
        }
    }

    private func launch(upTo count: Int) {
        while launched < count {
            let id = launched
            launched += 1
            if id == 0 {
                onStart?()
                onStart = nil
                firstRequestNanoseconds = Self.nanoseconds()
            }
            guard clients[id].phase == .waitingToStart else { continue }
            clients[id].phase = .requested
            clients[id].startNanoseconds = Self.nanoseconds()
            active += 1
            sendRequest(id)
            clients[id].timer = reactor.addTimer(afterMilliseconds: configuration.timeoutMilliseconds) { [unowned self] in
                self.timedOut(id)
            }
        }
    }

    // MARK: - Receiving

    private func drain(_ id: Int) {
        guard let fd = clients[id].descriptor else { return }
        while clients[id].isActive {
            let count: Int
            do {
                count = try receiveBatch.receive(from: fd)
            } catch {
                finish(id, failure: .socket)
                return
            }
            for index in 0..<count {
                guard clients[id].isActive else { return }
                handle(id, datagram: index)
            }
            if count < receiveBatch.capacity { return }
        }
    }

    private func handle(_ id: Int, datagram index: Int) {
        guard let source = receiveBatch.source(index) else { return }
        let bytes = receiveBatch.payload(index)
        let port = source.port
        guard bytes.count >= 4, bytes[0] == 0 else {
            counters.malformedDatagrams += 1
            return
        }
        if clients[id].serverPort == 0 {
            // Only a plausible first answer names the transfer ID: a stale DATA from a transfer an
            // earlier run left behind (on a reused port) must not capture this client.
            guard Self.canOpenTransfer(bytes) else {
                counters.foreignDatagrams += 1
                return
            }
            clients[id].serverPort = port
        } else if port != clients[id].serverPort {
            counters.foreignDatagrams += 1
            return
        }
        switch bytes[1] {
        case UInt8(TFTPOpcode.data.rawValue):
            if receiveBatch.isTruncated(index) {
                finish(id, failure: .corrupt)
                return
            }
            handleData(id, bytes)
        case UInt8(TFTPOpcode.optionAcknowledgement.rawValue):
            handleOptionAcknowledgement(id, bytes)
        case UInt8(TFTPOpcode.error.rawValue):
            finish(id, failure: .error(UInt16(bytes[2]) << 8 | UInt16(bytes[3])))
        default:
            counters.malformedDatagrams += 1
        }
    }

    /// OACK, ERROR, or DATA block 1.
    private static func canOpenTransfer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch bytes[1] {
        case UInt8(TFTPOpcode.optionAcknowledgement.rawValue), UInt8(TFTPOpcode.error.rawValue): true
        case UInt8(TFTPOpcode.data.rawValue): bytes[2] == 0 && bytes[3] == 1
        default: false
        }
    }

    private func handleOptionAcknowledgement(_ id: Int, _ bytes: UnsafeRawBufferPointer) {
        guard clients[id].phase == .requested else {
            // Our ACK 0 was late or lost and the server re-sent its OACK; the timer re-sends the ACK.
            if clients[id].phase == .receiving, clients[id].window.nextBlock == 1 { counters.duplicateOptionAcknowledgements += 1 }
            return
        }
        guard configuration.sendOptions, let accepted = optionCheck.check(bytes) else {
            finish(id, failure: .badOptionAcknowledgement)
            return
        }
        clients[id].phase = .receiving
        clients[id].blockSize = accepted.blockSize
        clients[id].window = ReceiveWindow(windowSize: accepted.windowSize)
        clients[id].window.acknowledgeOptions()
        sendAcknowledgement(id, block: 0)
        progressed(id)
    }

    private func handleData(_ id: Int, _ bytes: UnsafeRawBufferPointer) {
        if clients[id].phase == .requested {
            // DATA 1 without an OACK: RFC 1350 defaults (and a server that ignored our options).
            if configuration.sendOptions { counters.missingOptionAcknowledgements += 1 }
            clients[id].phase = .receiving
        }
        let wireBlock = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        switch clients[id].window.classify(wireBlock: wireBlock) {
        case .old:
            counters.serverRetransmissionsSeen += 1
        case .ahead:
            counters.gaps += 1
            if let block = clients[id].window.gap() { sendAcknowledgement(id, block: block) }
        case .next(let block):
            let payload = UnsafeRawBufferPointer(rebasing: bytes[TFTPPacketEncoder.dataHeaderSize...])
            let blockSize = clients[id].blockSize
            let offset = Int(block - 1) * blockSize
            guard payload.count <= blockSize, reference.matches(payload, at: offset) else {
                finish(id, failure: .corrupt)
                return
            }
            clients[id].bytesVerified += UInt64(payload.count)
            let isFinal = payload.count < blockSize
            if let ack = clients[id].window.accept(isFinal: isFinal) { sendAcknowledgement(id, block: ack) }
            if isFinal {
                finish(id, failure: offset + payload.count == reference.size ? nil : .short)
            } else {
                progressed(id)
            }
        }
    }

    // MARK: - Sending and timers

    private func sendRequest(_ id: Int) {
        send(id, UnsafeRawBufferPointer(request), to: configuration.server)
    }

    private func sendAcknowledgement(_ id: Int, block: UInt64) {
        acknowledgement[2] = UInt8(truncatingIfNeeded: block >> 8)
        acknowledgement[3] = UInt8(truncatingIfNeeded: block)
        var peer = configuration.server
        peer.port = clients[id].serverPort
        send(id, UnsafeRawBufferPointer(acknowledgement), to: peer)
    }

    private func send(_ id: Int, _ bytes: UnsafeRawBufferPointer, to peer: SocketAddress) {
        // A full send buffer is covered by the retransmission timer.
        if sendBatch.sendOne(descriptor: clients[id].descriptor!, bytes: bytes, to: peer).firstError != nil {
            counters.sendErrors += 1
        }
    }

    /// The server answered: reset the retry count and push the timeout back.
    private func progressed(_ id: Int) {
        clients[id].unansweredRetries = 0
        if let timer = clients[id].timer, reactor.rearmTimer(timer, afterMilliseconds: configuration.timeoutMilliseconds) { return }
        clients[id].timer = reactor.addTimer(afterMilliseconds: configuration.timeoutMilliseconds) { [unowned self] in
            self.timedOut(id)
        }
    }

    private func timedOut(_ id: Int) {
        clients[id].timer = nil
        guard clients[id].isActive else { return }
        guard clients[id].unansweredRetries < configuration.retries else {
            finish(id, failure: .timeout)
            return
        }
        clients[id].unansweredRetries += 1
        counters.clientRetransmissions += 1
        if clients[id].phase == .requested {
            counters.requestRetransmissions += 1
            sendRequest(id)
        } else {
            sendAcknowledgement(id, block: clients[id].window.lastAcknowledged)
        }
        clients[id].timer = reactor.addTimer(afterMilliseconds: configuration.timeoutMilliseconds) { [unowned self] in
            self.timedOut(id)
        }
    }

    private func deadlinePassed() {
        deadline = nil
        for id in clients.indices where clients[id].isActive { finish(id, failure: .deadline) }
        for id in clients.indices where clients[id].phase == .waitingToStart {
            clients[id].phase = .finished
            clients[id].failure = .deadline
        }
        reactor.stop()
    }

    // MARK: - Ending

    /// A client that gives up while the server still sends tells it with an ERROR (RFC 1350), so the
    /// server frees the transfer now instead of retransmitting into a closed port.
    private func tellServer(_ id: Int, _ failure: FailureKind) {
        let packet: [UInt8]
        switch failure {
        case .badOptionAcknowledgement: packet = Self.optionsRefused
        case .corrupt, .short, .deadline: packet = Self.clientAborted
        case .timeout, .error, .socket: return
        }
        var peer = configuration.server
        peer.port = clients[id].serverPort
        packet.withUnsafeBytes { send(id, $0, to: peer) }
    }

    private static let optionsRefused = TFTPPacketEncoder.error(.optionNegotiationFailed, "volley-loadgen: OACK refused")
    private static let clientAborted = TFTPPacketEncoder.error(.notDefined, "volley-loadgen: transfer abandoned")

    private func finish(_ id: Int, failure: FailureKind?) {
        guard clients[id].isActive else { return }
        if let failure, clients[id].serverPort != 0 { tellServer(id, failure) }
        let end = Self.nanoseconds()
        clients[id].phase = .finished
        clients[id].failure = failure
        clients[id].endNanoseconds = end
        lastEndNanoseconds = max(lastEndNanoseconds, end)
        if let timer = clients[id].timer { reactor.cancelTimer(timer) }
        clients[id].timer = nil
        closeSocket(of: id)
        active -= 1
        if active == 0, launched == configuration.clients { reactor.stop() }
    }
}

@available(*, unavailable)
extension LoadGenerator: Sendable {}

/// Run-wide packet counts beyond per-client results.
struct TrafficCounters {
    /// Re-sends by clients after a timeout (RRQ or ACK).
    var clientRetransmissions = 0
    /// Of those, RRQs re-sent because the server had not answered at all yet.
    var requestRetransmissions = 0
    /// DATA blocks received again (already verified): the server re-sent them.
    var serverRetransmissionsSeen = 0
    /// OACKs received again after ACK 0 was sent.
    var duplicateOptionAcknowledgements = 0
    /// DATA blocks that arrived ahead of a missing one (window gaps).
    var gaps = 0
    /// Datagrams from a port other than the transfer's server TID (ignored).
    var foreignDatagrams = 0
    /// Datagrams too short or of an unexpected opcode (ignored).
    var malformedDatagrams = 0
    /// Transfers that asked for options and got DATA 1 without an OACK.
    var missingOptionAcknowledgements = 0
    /// Sends the kernel refused.
    var sendErrors = 0
}
