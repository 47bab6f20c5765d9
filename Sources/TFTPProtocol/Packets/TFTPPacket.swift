/// A decoded TFTP datagram.
public enum TFTPPacket: Hashable, Sendable {
    /// RRQ.
    case readRequest(TFTPRequest)
    /// WRQ.
    case writeRequest(TFTPRequest)
    /// DATA with its 16-bit (rolling) block number.
    case data(block: UInt16, payload: [UInt8])
    /// ACK with its 16-bit (rolling) block number.
    case acknowledgement(block: UInt16)
    /// ERROR with code and message.
    case error(code: TFTPErrorCode, message: String)
    /// OACK with the accepted options.
    case optionAcknowledgement([TFTPOption])

    /// The opcode this packet is sent with.
    public var opcode: TFTPOpcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .acknowledgement: .acknowledgement
        case .error: .error
        case .optionAcknowledgement: .optionAcknowledgement
        }
    }
}
