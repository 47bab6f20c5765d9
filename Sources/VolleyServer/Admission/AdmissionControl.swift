import TFTPProtocol
import VolleySystem

/// Decides, before any file or socket is opened, whether a read request may start a
/// transfer, and whether an error reply may be sent at all.
///
/// Every limit of the server lives here: the transfer maximum, transfers per client,
/// new requests per client (a token bucket), and error replies per client and in total
/// (token buckets, so that spoofed requests cannot turn the server into a reflector).
/// Confined to the reactor thread.
struct AdmissionControl {
    /// The limits in force (a reload replaces them).
    var limits: AdmissionLimits
    /// False while draining for shutdown: new requests are dropped.
    var acceptingRequests = true

    private var requestBuckets = PerClientBuckets()
    private var errorBuckets = PerClientBuckets()
    private var totalErrorBucket: TokenBucket
    private var transfersByClient: [SocketAddressKey: Int] = [:]

    init(limits: AdmissionLimits, now: UInt64) {
        self.limits = limits
        totalErrorBucket = TokenBucket(burst: limits.errorRepliesPerSecond * 2, now: now)
    }

    /// The decision for `request` from `client` with `activeTransfers` running.
    mutating func decide(_ request: TFTPRequest, from client: SocketAddressKey, activeTransfers: Int, now: UInt64) -> AdmissionDecision {
        guard acceptingRequests else {
            return .drop(.shuttingDown, detail: "the server is shutting down")
        }
        let rate = limits.requestsPerSecondPerClient
        guard requestBuckets.take(client, rate: rate, burst: rate * 2, now: now) else {
            return .drop(.rateLimited, detail: "more than \(rate) new requests a second from \(client)")
        }
        guard request.transferMode != nil else {
            return .refuse(
                .unsupportedMode, code: .illegalOperation,
                message: "Unsupported transfer mode \"\(request.mode)\"",
                detail: "unsupported mode \(request.mode.debugDescription)")
        }
        return capacity(for: client, activeTransfers: activeTransfers)
    }

    /// Whether one more transfer of `client` fits the transfer limits (no other check).
    func capacity(for client: SocketAddressKey, activeTransfers: Int) -> AdmissionDecision {
        guard activeTransfers < limits.maximumTransfers else {
            // Dropped, not refused: boot firmware retries a request but gives up on an error.
            return .drop(.atCapacity, detail: "at the limit of \(limits.maximumTransfers) transfers")
        }
        let perClient = limits.maximumTransfersPerClient
        if perClient > 0, transfersByClient[client, default: 0] >= perClient {
            return .drop(.clientAtCapacity, detail: "\(client) already has \(perClient) transfers")
        }
        return .admit
    }

    /// Whether an ERROR may be sent to `client` now (its bucket and the total one).
    mutating func mayReplyWithError(to client: SocketAddressKey, now: UInt64) -> Bool {
        let perClient = limits.errorRepliesPerSecondPerClient
        guard errorBuckets.take(client, rate: perClient, burst: perClient * 2, now: now) else { return false }
        let total = limits.errorRepliesPerSecond
        return totalErrorBucket.take(rate: total, burst: total * 2, now: now)
    }

    /// Counts a transfer of `client` that started.
    mutating func transferStarted(for client: SocketAddressKey) {
        transfersByClient[client, default: 0] += 1
    }

    /// Counts a transfer of `client` that ended.
    mutating func transferEnded(for client: SocketAddressKey) {
        let left = transfersByClient[client, default: 1] - 1
        transfersByClient[client] = left > 0 ? left : nil
    }
}

/// The limits the admission step enforces; 0 means unlimited where noted.
struct AdmissionLimits: Equatable {
    var maximumTransfers: Int
    /// Transfers at once from one client address; 0: unlimited.
    var maximumTransfersPerClient: Int
    /// New requests a second from one client address (burst twice that); 0: unlimited.
    var requestsPerSecondPerClient: Int
    /// ERROR replies a second to one client address (burst twice that); 0: unlimited.
    var errorRepliesPerSecondPerClient: Int
    /// ERROR replies a second in total (burst twice that); 0: unlimited.
    var errorRepliesPerSecond: Int

    init(_ configuration: TFTPServerConfiguration) {
        maximumTransfers = configuration.maximumTransfers
        maximumTransfersPerClient = configuration.maximumTransfersPerClient
        requestsPerSecondPerClient = configuration.requestsPerSecondPerClient
        errorRepliesPerSecondPerClient = configuration.errorRepliesPerSecondPerClient
        errorRepliesPerSecond = configuration.errorRepliesPerSecond
    }
}
