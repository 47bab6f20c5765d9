import TFTPProtocol
import VolleyReactor

/// One read transfer in flight: its socket (its TID), its open file, and its state machine.
///
/// Lives in the reactor's transfer table; only the reactor thread touches it.
final class ReadTransfer {
    /// The socket bound to the address the request arrived on, on a fresh port.
    let socket: Int32
    /// The file, opened once at request time: a replacement by rename does not affect us.
    let file: Int32
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
        socket: Int32, file: Int32, peer: SocketAddress, fileName: String, mode: TransferMode,
        negotiated: NegotiatedTransfer, wireSize: UInt64, retransmission: RetransmissionPolicy, startedAt: UInt64
    ) {
        self.socket = socket
        self.file = file
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
