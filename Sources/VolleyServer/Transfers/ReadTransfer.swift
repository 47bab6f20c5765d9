import TFTPProtocol
import VolleyReactor
import VolleySystem

/// One read transfer in flight: its socket (its TID), its open file, and its state machine.
///
/// Owned by the ``TransferTable``; only the reactor thread touches it. Its socket and file
/// are released when it is removed from the table: a transfer's own socket is closed then,
/// and a socket shared with the listener (single-port mode) stays open for as long as any
/// transfer still uses it.
final class ReadTransfer {
    /// The socket bound to the address the request arrived on, on a fresh port; in
    /// single-port mode the listening socket.
    let socket: DatagramSocket
    /// Whether ``socket`` is the listener's (single-port mode), fixed for the transfer's
    /// life whatever a reload changes.
    let sharesListenerSocket: Bool
    /// The local address to send from when ``socket`` is a shared, wildcard-bound one.
    let source: PacketInfo?
    /// The file, opened at request time (shared with transfers of the same unchanged inode).
    let file: OpenFile
    /// The client's address and port (its TID).
    let peer: SocketAddress
    /// The transfer as negotiated, for events and logs.
    let description: TransferDescription
    /// The request that started it: the same request again from the client is a repeat
    /// (it missed our answer), a different one is a new transfer.
    let request: TFTPRequest
    let mode: TransferMode
    let negotiated: NegotiatedTransfer
    /// The encoded OACK, when one is sent.
    let optionAcknowledgement: [UInt8]?
    let startedAt: UInt64
    var machine: ReadTransferStateMachine
    var netascii: NetasciiBlockSource?
    var timer: TimerID?
    var bytesSent: UInt64 = 0
    /// When the OACK last went out on the timer (loop milliseconds), nil before the first.
    var optionAcknowledgementSentAt: UInt64?
    var finished = false
    /// When the file's status was last compared with its status at open (loop milliseconds).
    var fileCheckedAt: UInt64
    /// How often, at most, a transfer re-reads its file's status before the final block.
    static let fileCheckIntervalMilliseconds: UInt64 = 1000
    /// When the last progress event went out (loop milliseconds).
    var progressReportedAt: UInt64
    /// How often, at most, a transfer reports its progress.
    static let progressIntervalMilliseconds: UInt64 = 1000
    /// The transfer's index in the table, set on insert.
    var slot = -1

    init(
        socket: DatagramSocket, sharesListenerSocket: Bool, source: PacketInfo?, file: OpenFile, peer: SocketAddress,
        request: TFTPRequest, mode: TransferMode, negotiated: NegotiatedTransfer, wireSize: UInt64?,
        retransmission: RetransmissionPolicy, startedAt: UInt64, rule: String? = nil, servedName: String? = nil, mac: String? = nil
    ) {
        self.socket = socket
        self.sharesListenerSocket = sharesListenerSocket
        self.source = source
        self.file = file
        self.peer = peer
        self.request = request
        self.mode = mode
        self.negotiated = negotiated
        self.optionAcknowledgement =
            negotiated.acknowledgedOptions.isEmpty
            ? nil : TFTPPacketEncoder.optionAcknowledgement(negotiated.acknowledgedOptions)
        self.startedAt = startedAt
        self.fileCheckedAt = startedAt
        self.progressReportedAt = startedAt
        self.machine = ReadTransferStateMachine(
            transferSize: wireSize, blockSize: negotiated.blockSize, windowSize: negotiated.windowSize,
            sendsOptionAcknowledgement: optionAcknowledgement != nil, retransmission: retransmission
        )
        self.netascii = mode == .netascii ? NetasciiBlockSource() : nil
        self.description = TransferDescription(
            client: peer.description, clientAddress: peer.ipString, fileName: request.filename, mode: mode.rawValue,
            blockSize: negotiated.blockSize, windowSize: negotiated.windowSize, transferSize: negotiated.transferSize,
            timeoutSeconds: negotiated.timeoutSeconds, acknowledgedOptions: optionAcknowledgement != nil,
            singlePort: sharesListenerSocket, rule: rule, servedName: servedName ?? request.filename, mac: mac)
    }
}

@available(*, unavailable)
extension ReadTransfer: Sendable {}
