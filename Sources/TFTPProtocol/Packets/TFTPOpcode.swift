/// The operation code in the first two bytes of every TFTP datagram (RFC 1350, RFC 2347).
public enum TFTPOpcode: UInt16, Sendable {
    /// RRQ: a client asks to read a file.
    case readRequest = 1
    /// WRQ: a client asks to write a file.
    case writeRequest = 2
    /// DATA: one block of a file.
    case data = 3
    /// ACK: a block (or the OACK, as block 0) was received.
    case acknowledgement = 4
    /// ERROR: the transfer ends with a code and a message.
    case error = 5
    /// OACK: the server's answer to requested options.
    case optionAcknowledgement = 6
}
