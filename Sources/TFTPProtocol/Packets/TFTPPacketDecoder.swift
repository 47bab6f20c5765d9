/// Turns datagrams into `TFTPPacket`s; any input, of any length, either decodes or throws `MalformedPacket`.
public enum TFTPPacketDecoder {
    /// The most options one request or OACK may carry; more is treated as an attack, not a request.
    public static let maximumOptionCount = 64

    /// Decodes one datagram.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(MalformedPacket) -> TFTPPacket {
        var reader = ByteReader(bytes)
        guard let rawOpcode = reader.readUInt16() else {
            throw MalformedPacket(reason: "packet shorter than 2 bytes")
        }
        guard let opcode = TFTPOpcode(rawValue: rawOpcode) else {
            throw MalformedPacket(reason: "unknown opcode \(rawOpcode)")
        }
        switch opcode {
        case .readRequest:
            return .readRequest(try decodeRequest(&reader))
        case .writeRequest:
            return .writeRequest(try decodeRequest(&reader))
        case .data:
            guard let block = reader.readUInt16() else {
                throw MalformedPacket(reason: "DATA shorter than 4 bytes")
            }
            return .data(block: block, payload: Array(reader.readRest()))
        case .acknowledgement:
            // Trailing bytes after the block number are tolerated, as in `acknowledgedBlock(in:)`.
            guard let block = reader.readUInt16() else {
                throw MalformedPacket(reason: "ACK shorter than 4 bytes")
            }
            return .acknowledgement(block: block)
        case .error:
            // A 1-3 byte ERROR is where atftpd underflowed (CVE-2019-11365): reject it before touching the message.
            guard let code = reader.readUInt16() else {
                throw MalformedPacket(reason: "ERROR shorter than 4 bytes")
            }
            // Some peers omit the message's NUL: take what is there.
            let message = reader.readNulTerminated() ?? reader.readRest()
            return .error(code: TFTPErrorCode(rawValue: code), message: String(lossyUTF8: message))
        case .optionAcknowledgement:
            return .optionAcknowledgement(try decodeOptions(&reader))
        }
    }

    /// Decodes one datagram held in an array.
    public static func decode(_ bytes: [UInt8]) throws(MalformedPacket) -> TFTPPacket {
        let result: Result<TFTPPacket, MalformedPacket> = bytes.withUnsafeBytes { buffer in
            do throws(MalformedPacket) {
                return .success(try decode(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Hot path: the block number if `bytes` is an ACK (opcode 4, length >= 4; extra trailing bytes tolerated), else nil. No allocation.
    public static func acknowledgedBlock(in bytes: UnsafeRawBufferPointer) -> UInt16? {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == UInt8(TFTPOpcode.acknowledgement.rawValue) else {
            return nil
        }
        return UInt16(bytes[2]) << 8 | UInt16(bytes[3])
    }

    /// Hot path: the opcode of a datagram of >= 2 bytes, else nil.
    public static func opcode(of bytes: UnsafeRawBufferPointer) -> TFTPOpcode? {
        guard bytes.count >= 2 else { return nil }
        return TFTPOpcode(rawValue: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
    }

    private static func decodeRequest(_ reader: inout ByteReader) throws(MalformedPacket) -> TFTPRequest {
        guard let filename = reader.readNulTerminated() else {
            throw MalformedPacket(reason: "request has no NUL after the file name")
        }
        guard !filename.isEmpty else {
            throw MalformedPacket(reason: "request has an empty file name")
        }
        guard let mode = reader.readNulTerminated() else {
            throw MalformedPacket(reason: "request has no NUL after the mode")
        }
        guard !mode.isEmpty else {
            throw MalformedPacket(reason: "request has an empty mode")
        }
        let options = try decodeOptions(&reader)
        return TFTPRequest(filenameBytes: Array(filename), mode: String(lossyUTF8: mode), options: options)
    }

    /// Reads name/value pairs to the end; zero bytes after the last complete pair are padding, anything else must pair up.
    private static func decodeOptions(_ reader: inout ByteReader) throws(MalformedPacket) -> [TFTPOption] {
        var options: [TFTPOption] = []
        while !reader.restIsZeroPadding {
            guard options.count < maximumOptionCount else {
                throw MalformedPacket(reason: "more than \(maximumOptionCount) options")
            }
            guard let name = reader.readNulTerminated() else {
                throw MalformedPacket(reason: "option name has no NUL")
            }
            guard !name.isEmpty else {
                throw MalformedPacket(reason: "empty option name")
            }
            guard reader.remaining > 0 else {
                throw MalformedPacket(reason: "odd number of option strings")
            }
            guard let value = reader.readNulTerminated() else {
                throw MalformedPacket(reason: "option value has no NUL")
            }
            options.append(TFTPOption(name: String(lossyUTF8: name), value: String(lossyUTF8: value)))
        }
        return options
    }
}
