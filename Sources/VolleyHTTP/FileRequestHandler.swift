import Logging
import NIOCore
import NIOHTTP1
import VolleyServer
import VolleySystem

/// Answers one connection's requests: `GET` and `HEAD` of the boot files, as ``BootFiles``
/// resolves them for the client's address. Bodies go from the page cache to the socket with
/// `sendfile` (a `FileRegion`); the last byte waits until the file is known unchanged, so a
/// file rewritten in place mid-body ends the connection short, never with a mixed body.
final class FileRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Bodies up to this size are read and sent from memory with their head; larger ones go by `sendfile`.
    static let copiedBodyBytes: UInt64 = 64 * 1024

    /// The longest request target served (longer: 414).
    static let maximumTargetBytes = 8192

    private let files: BootFiles
    private let logger: Logger
    private let headerTimeout: TimeAmount
    private var request: HTTPRequestHead?
    /// Closes a connection whose next request head does not arrive in time (slow clients).
    private var headerDeadline: Scheduled<Void>?
    private var responding = false
    /// Set while the connection counts against the server's limits; called once when it closes.
    private var releaseAdmission: (@Sendable () -> Void)?
    /// False when the server was at a limit as the connection opened: its request gets 503.
    private var admitted = true
    /// The peer's address, taken once when the connection opens (nil: the channel had none).
    private var client: VolleySystem.SocketAddress?

    init(files: BootFiles, headerTimeout: TimeAmount, logger: Logger) {
        self.files = files
        self.headerTimeout = headerTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress, let ip = remote.ipAddress,
            let client = VolleySystem.SocketAddress(ip: ip, port: UInt16(remote.port ?? 0))
        {
            self.client = client
            releaseAdmission = files.admitConnection(from: client)
            admitted = releaseAdmission != nil
        }
        armHeaderDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headerDeadline?.cancel()
        releaseAdmission?()
        releaseAdmission = nil
        context.fireChannelInactive()
    }

    /// A malformed request (NIO's error handler has answered it with 400), or a broken connection: closed.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("HTTP client \(context.remoteAddress?.description ?? "?"): \(error); closed")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            headerDeadline?.cancel()
            request = head
        case .body:
            break  // a GET or HEAD body means nothing here; it is read and dropped
        case .end:
            guard let head = request else { return }
            request = nil
            handle(head, context: context)
        }
    }

    private func armHeaderDeadline(context: ChannelHandlerContext) {
        headerDeadline?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        headerDeadline = context.eventLoop.scheduleTask(in: headerTimeout) { [weak self] in
            guard let self, !self.responding else { return }
            let context = loopBound.value
            self.logger.debug("HTTP client \(context.remoteAddress?.description ?? "?") sent no request head in time: closed")
            context.close(promise: nil)
        }
    }

    // MARK: - One request

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard admitted else {
            // At max_transfers or max_transfers_per_client, counted with TFTP's transfers.
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: "1")
            var closing = head
            closing.headers.replaceOrAdd(name: "Connection", value: "close")
            return sendError(.serviceUnavailable, head: closing, extra: headers, context: context)
        }
        guard head.method == .GET || head.method == .HEAD else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            return sendError(.methodNotAllowed, head: head, extra: headers, context: context)
        }
        guard head.uri.utf8.count <= Self.maximumTargetBytes else { return sendError(.uriTooLong, head: head, context: context) }
        let name: [UInt8]
        switch RequestTarget.name(of: head.uri) {
        case .success(let decoded): name = decoded
        case .failure(.malformed): return sendError(.badRequest, head: head, context: context)
        case .failure(.directory), .failure(.nul): return sendError(.notFound, head: head, context: context)
        }
        guard let client else { return sendError(.badRequest, head: head, context: context) }
        responding = true
        let files = self.files
        // A file under the root opens at once, here; only one the origin must bring waits, off the loop.
        switch files.openWithoutWaiting(name, client: client) {
        case .opened(let file): return send(file, name: name, client: client, head: head, context: context)
        case .refused(let refusal): return refused(refusal, name: name, client: client, head: head, context: context)
        case .needsOrigin: break
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let opening = context.eventLoop.makeFutureWithTask { () async -> BootFileBox in BootFileBox(await files.open(name, client: client))
        }
        opening.whenSuccess { opened in
            let (handler, context) = loopBound.value
            switch opened.result {
            case .success(let file):
                handler.send(file, name: name, client: client, head: head, context: context)
            case .failure(let refusal): handler.refused(refusal, name: name, client: client, head: head, context: context)
            }
        }
    }

    private func refused(
        _ refusal: BootFileRefusal, name: [UInt8], client: VolleySystem.SocketAddress, head: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        let status: HTTPResponseStatus =
            switch refusal.kind {
            case .notFound, .notARegularFile: .notFound
            case .accessDenied, .invalidName: .forbidden
            case .busy: .serviceUnavailable
            case .failed: .internalServerError
            }
        let reason: RefusalReason =
            switch refusal.kind {
            case .notFound: .fileNotFound
            case .accessDenied: .accessViolation
            case .notARegularFile: .notARegularFile
            case .invalidName: .invalidName
            case .busy, .failed: .serverError
            }
        files.report(
            .requestRefused(
                RefusedRequest(
                    client: client.description, fileName: String(decoding: name, as: UTF8.self), reason: reason, errorCode: nil,
                    detail: "HTTP \(status.code): \(refusal.detail)", mac: files.recentMAC(of: client), transferProtocol: .http)))
        sendError(status, head: head, context: context)
    }

    /// The file, whole or a range of it, or 304 when the client has it.
    private func send(
        _ file: BootFile, name: [UInt8], client: VolleySystem.SocketAddress, head: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        var headers = commonHeaders(keepAlive: head.isKeepAlive)
        headers.add(name: "Last-Modified", value: WallClock.httpDate(epochSeconds: file.modifiedEpochSeconds))
        headers.add(name: "ETag", value: file.entityTag)
        headers.add(name: "Accept-Ranges", value: "bytes")
        headers.add(name: "Content-Type", value: "application/octet-stream")
        if Self.clientHasIt(head.headers, file: file) {
            return finish(
                HTTPResponseHead(version: head.version, status: .notModified, headers: headers), body: nil, file: file, head: head,
                context: context)
        }
        var range = ByteRange.parse(head.headers.first(name: "Range"), size: file.size)
        if let condition = head.headers.first(name: "If-Range"), condition.trimmingWhitespace != file.entityTag { range = .whole }
        var status = HTTPResponseStatus.ok
        var body: (lower: UInt64, upper: UInt64)? = file.size > 0 ? (0, file.size - 1) : nil
        switch range {
        case .whole:
            break
        case .part(let lower, let upper):
            status = .partialContent
            body = (lower, upper)
            headers.add(name: "Content-Range", value: "bytes \(lower)-\(upper)/\(file.size)")
        case .unsatisfiable:
            headers.add(name: "Content-Range", value: "bytes */\(file.size)")
            headers.replaceOrAdd(name: "Content-Length", value: "0")
            return finish(
                HTTPResponseHead(version: head.version, status: .rangeNotSatisfiable, headers: headers), body: nil, file: file, head: head,
                context: context)
        }
        let length = body.map { $0.upper - $0.lower + 1 } ?? 0
        headers.replaceOrAdd(name: "Content-Length", value: String(length))
        guard head.method == .GET else {
            return finish(
                HTTPResponseHead(version: head.version, status: status, headers: headers), body: nil, file: file, head: head,
                context: context)
        }
        // A GET with a body is a transfer: it is reported as TFTP transfers are.
        let transfer = TransferDescription(
            client: client.description, clientAddress: client.ipString, fileName: String(decoding: name, as: UTF8.self), mode: "GET",
            blockSize: 0, windowSize: 0, transferSize: length, timeoutSeconds: nil, acknowledgedOptions: false, singlePort: false,
            rule: file.rule, servedName: file.servedName, mac: files.recentMAC(of: client), transferProtocol: .http)
        files.report(.transferStarted(transfer))
        let started = MonotonicClock.milliseconds()
        let files = files
        let report: @Sendable (TransferOutcome, UInt64) -> Void = { outcome, sent in
            files.report(
                .transferFinished(
                    TransferReport(
                        transfer: transfer, outcome: outcome, bytesSent: sent,
                        durationSeconds: Double(max(1, MonotonicClock.milliseconds() &- started)) / 1000, retransmissions: 0)))
        }
        finish(
            HTTPResponseHead(version: head.version, status: status, headers: headers), body: body, file: file, head: head, context: context,
            report: report)
    }

    /// `If-None-Match` (strong comparison, or `*`), else `If-Modified-Since`.
    private static func clientHasIt(_ headers: HTTPHeaders, file: BootFile) -> Bool {
        if let tags = headers.first(name: "If-None-Match") {
            return tags.split(separator: ",").contains { $0.trimmingWhitespace == file.entityTag || $0.trimmingWhitespace == "*" }
        }
        if let since = headers.first(name: "If-Modified-Since"), let seconds = HTTPDateParser.epochSeconds(since) {
            return file.modifiedEpochSeconds <= seconds
        }
        return false
    }

    /// Writes the head and the body's bytes `lower...upper`: all but the last with `sendfile`,
    /// then the last once the file is known unchanged.
    private func finish(
        _ response: HTTPResponseHead, body: (lower: UInt64, upper: UInt64)?, file: BootFile, head: HTTPRequestHead,
        context: ChannelHandlerContext, report: @escaping @Sendable (TransferOutcome, UInt64) -> Void = { _, _ in }
    ) {
        guard let body else {
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            report(.delivered, 0)
            return end(keepAlive: head.isKeepAlive, keeping: file, context: context)
        }
        let length = body.upper - body.lower + 1
        if length <= Self.copiedBodyBytes {
            // Small (an iPXE script, a config): one read, checked unchanged, and one write with the head.
            guard let bytes = file.read(offset: body.lower, count: Int(length)), !file.hasChanged() else {
                report(.failed(reason: "the file changed while it was read"), 0)
                return context.close(promise: nil)
            }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { result in
                switch result {
                case .success: report(.delivered, length)
                case .failure: report(.abortedByClient(code: 0, message: "connection closed"), 0)
                }
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: written)
            return end(keepAlive: head.isKeepAlive, keeping: nil, context: context)
        }
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.descriptor)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let release: @Sendable (Result<Void, Error>) -> Void = { _ in _ = try? handle.takeDescriptorOwnership() }
        if body.upper > body.lower {
            let region = FileRegion(fileHandle: handle, readerIndex: Int(body.lower), endIndex: Int(body.upper))
            context.writeAndFlush(wrapOutboundOut(.body(.fileRegion(region)))).whenComplete { result in
                let (handler, context) = loopBound.value
                guard case .success = result else {
                    release(result)
                    report(.abortedByClient(code: 0, message: "connection closed"), 0)
                    return context.close(promise: nil)
                }
                handler.sendLastByte(
                    handle, at: body.upper, sentBefore: body.upper - body.lower, file: file, head: head, release: release, report: report,
                    context: context)
            }
        } else {
            sendLastByte(handle, at: body.upper, sentBefore: 0, file: file, head: head, release: release, report: report, context: context)
        }
    }

    private func sendLastByte(
        _ handle: NIOFileHandle, at offset: UInt64, sentBefore: UInt64, file: BootFile, head: HTTPRequestHead,
        release: @escaping @Sendable (Result<Void, Error>) -> Void, report: @escaping @Sendable (TransferOutcome, UInt64) -> Void,
        context: ChannelHandlerContext
    ) {
        // Reported (and logged) as a failed transfer by the observers.
        guard !file.hasChanged() else {
            release(.success(()))
            report(.failed(reason: "the file changed while it was sent; connection closed before its last byte"), sentBefore)
            return context.close(promise: nil)
        }
        let region = FileRegion(fileHandle: handle, readerIndex: Int(offset), endIndex: Int(offset) + 1)
        context.write(wrapOutboundOut(.body(.fileRegion(region)))).whenComplete { result in
            release(result)
            switch result {
            case .success: report(.delivered, sentBefore + 1)
            case .failure: report(.abortedByClient(code: 0, message: "connection closed"), sentBefore)
            }
        }
        end(keepAlive: head.isKeepAlive, keeping: file, context: context)
    }

    /// Ends the response; closes the connection unless it is kept alive, else waits for the next head.
    private func end(keepAlive: Bool, keeping file: BootFile?, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { result in
            _ = file  // the descriptor stays open until the last byte is out
            let (handler, context) = loopBound.value
            handler.responding = false
            if case .failure = result { return context.close(promise: nil) }
            if keepAlive { handler.armHeaderDeadline(context: context) } else { context.close(promise: nil) }
        }
    }

    private func sendError(_ status: HTTPResponseStatus, head: HTTPRequestHead, extra: HTTPHeaders = [:], context: ChannelHandlerContext) {
        responding = true
        let text = "\(status.code) \(status.reasonPhrase)\n"
        var headers = commonHeaders(keepAlive: head.isKeepAlive)
        headers.add(contentsOf: extra)
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        }
        end(keepAlive: head.isKeepAlive, keeping: nil, context: context)
    }

    private func commonHeaders(keepAlive: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Date", value: WallClock.httpDate(epochSeconds: WallClock.epochMilliseconds() / 1000))
        headers.add(name: "Server", value: "volley")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        return headers
    }
}

/// A lookup's result, carried from the task that opened the file back to the event loop.
private struct BootFileBox: Sendable {
    let result: Result<BootFile, BootFileRefusal>
    init(_ result: Result<BootFile, BootFileRefusal>) { self.result = result }
}
