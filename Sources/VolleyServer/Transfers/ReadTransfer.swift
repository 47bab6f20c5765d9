import TFTPProtocol
import VolleyReactor

/// One read transfer in flight: its socket (its TID), its open file, and its state machine.
///
/// Lives in the reactor's transfer table; only the reactor thread touches it.
final class ReadTransfer {
    /// The socket bound to the address the request arrived on, on a fresh port; in
    /// single-port mode the listening socket (then not owned by the transfer).
    let socket: Int32
    /// Whether ``socket`` is the transfer's own (closed when it ends).
    let ownsSocket: Bool
    /// The local address to send from when ``socket`` is a shared, wildcard-bound one.
    let source: PacketInfo?
    /// The file, opened at request time (shared with transfers of the same inode): a
    /// replacement by rename does not affect us.
    let file: Int32
    let fileKey: SharedFileTable.Key?
    /// The client's address and port (its TID).
    let peer: SocketAddress
    let fileName: String
    let mode: TransferMode
    let negotiated: NegotiatedTransfer
    /// The encoded OACK, when one was sent.
    let optionAcknowledgement: [UInt8]?
    let startedAt: UInt64
    var machine: ReadTransferStateMachine
    var netascii: NetasciiBlockSource?
    var timer: TimerID?
    var bytesSent: UInt64 = 0
    var finished = false

    init(
        socket: Int32, ownsSocket: Bool, source: PacketInfo?, file: Int32, fileKey: SharedFileTable.Key?, peer: SocketAddress, fileName: String, mode: TransferMode,
        negotiated: NegotiatedTransfer, wireSize: UInt64, retransmission: RetransmissionPolicy, startedAt: UInt64
    ) {
        self.socket = socket
        self.ownsSocket = ownsSocket
        self.source = source
        self.file = file
        self.fileKey = fileKey
        self.peer = peer
        self.fileName = fileName
        self.mode = mode
        self.negotiated = negotiated
        self.optionAcknowledgement = negotiated.acknowledgedOptions.isEmpty
            ? nil : TFTPPacketEncoder.optionAcknowledgement(negotiated.acknowledgedOptions)
        self.startedAt = startedAt
        self.machine = ReadTransferStateMachine(
            transferSize: wireSize, blockSize: negotiated.blockSize, windowSize: negotiated.windowSize,
            sendsOptionAcknowledgement: optionAcknowledgement != nil, retransmission: retransmission
        )
        self.netascii = mode == .netascii ? NetasciiBlockSource() : nil
    }
}
