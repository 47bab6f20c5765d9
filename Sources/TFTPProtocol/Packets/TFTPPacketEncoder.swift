/// Turns `TFTPPacket`s into datagrams.
public enum TFTPPacketEncoder {
    /// Bytes before the payload of a DATA packet (opcode and block number).
    public static let dataHeaderSize = 4

    /// Encodes any packet.
    public static func encode(_ packet: TFTPPacket) -> [UInt8] {
        switch packet {
        case .readRequest(let request), .writeRequest(let request):
            var bytes = header(packet.opcode)
            bytes.append(contentsOf: request.filenameBytes)
            bytes.append(0)
            bytes.append(contentsOf: request.mode.utf8)
            bytes.append(0)
            appendOptions(request.options, to: &bytes)
            return bytes
        case .data(let block, let payload):
            var bytes = header(.data, reservingCapacity: dataHeaderSize + payload.count)
            appendUInt16(block, to: &bytes)
            bytes.append(contentsOf: payload)
            return bytes
        case .acknowledgement(let block):
            var bytes = header(.acknowledgement)
            appendUInt16(block, to: &bytes)
            return bytes
        case .error(let code, let message):
            return error(code, message)
        case .optionAcknowledgement(let options):
            return optionAcknowledgement(options)
        }
    }

    /// Encodes an ERROR packet; NUL bytes in the message are dropped so the message cannot end early.
    public static func error(_ code: TFTPErrorCode, _ message: String) -> [UInt8] {
        var bytes = header(.error)
        appendUInt16(code.rawValue, to: &bytes)
        bytes.append(contentsOf: message.utf8.lazy.filter { $0 != 0 })
        bytes.append(0)
        return bytes
    }

    /// Encodes an OACK carrying `options` in order.
    public static func optionAcknowledgement(_ options: [TFTPOption]) -> [UInt8] {
        var bytes = header(.optionAcknowledgement)
        appendOptions(options, to: &bytes)
        return bytes
    }

    /// Writes the 4-byte DATA header (opcode 3, block, big-endian) at destination.
    public static func writeDataHeader(block: UInt16, to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: 0, toByteOffset: 0, as: UInt8.self)
        destination.storeBytes(of: UInt8(TFTPOpcode.data.rawValue), toByteOffset: 1, as: UInt8.self)
        destination.storeBytes(of: UInt8(truncatingIfNeeded: block >> 8), toByteOffset: 2, as: UInt8.self)
        destination.storeBytes(of: UInt8(truncatingIfNeeded: block), toByteOffset: 3, as: UInt8.self)
    }

    private static func header(_ opcode: TFTPOpcode, reservingCapacity capacity: Int = 32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        appendUInt16(opcode.rawValue, to: &bytes)
        return bytes
    }

    private static func appendUInt16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private static func appendOptions(_ options: [TFTPOption], to bytes: inout [UInt8]) {
        for option in options {
            bytes.append(contentsOf: option.name.utf8)
            bytes.append(0)
            bytes.append(contentsOf: option.value.utf8)
            bytes.append(0)
        }
    }
}
