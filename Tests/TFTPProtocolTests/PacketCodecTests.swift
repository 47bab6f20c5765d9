import Testing
@testable import TFTPProtocol

@Suite("Packet encoding and decoding")
struct PacketCodecTests {
    static let roundTripPackets: [TFTPPacket] = [
        .readRequest(TFTPRequest(filename: "pxelinux.0", mode: "octet")),
        .readRequest(
            TFTPRequest(
                filename: "boot/vmlinuz", mode: "netascii",
                options: [
                    TFTPOption(name: "blksize", value: "1468"), TFTPOption(name: "tsize", value: "0"),
                ])),
        .writeRequest(TFTPRequest(filename: "upload.bin", mode: "octet", options: [TFTPOption(name: "timeout", value: "3")])),
        .data(block: 1, payload: [1, 2, 3]),
        .data(block: 65535, payload: []),
        .data(block: 0, payload: Array(repeating: 0xAB, count: 512)),
        .acknowledgement(block: 0),
        .acknowledgement(block: 0xBEEF),
        .error(code: .fileNotFound, message: "File not found"),
        .error(code: TFTPErrorCode(rawValue: 4242), message: ""),
        .optionAcknowledgement([TFTPOption(name: "blksize", value: "1432"), TFTPOption(name: "windowsize", value: "8")]),
        .optionAcknowledgement([]),
    ]

    @Test("every packet type survives encode then decode", arguments: roundTripPackets)
    func roundTrip(_ packet: TFTPPacket) throws {
        let decoded = try TFTPPacketDecoder.decode(TFTPPacketEncoder.encode(packet))
        #expect(decoded == packet)
    }

    @Test func encodesReadRequestWireFormat() {
        let bytes = TFTPPacketEncoder.encode(
            .readRequest(
                TFTPRequest(
                    filename: "a", mode: "OCTET",
                    options: [
                        TFTPOption(name: "tsize", value: "0")
                    ])))
        #expect(bytes == [0, 1, 0x61, 0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0, 0x74, 0x73, 0x69, 0x7A, 0x65, 0, 0x30, 0])
    }

    @Test func encodesDataAckErrorWireFormat() {
        #expect(TFTPPacketEncoder.encode(.data(block: 0x0102, payload: [9])) == [0, 3, 1, 2, 9])
        #expect(TFTPPacketEncoder.encode(.acknowledgement(block: 0xFF00)) == [0, 4, 0xFF, 0])
        #expect(TFTPPacketEncoder.error(.unknownTransferID, "x") == [0, 5, 0, 5, 0x78, 0])
        #expect(TFTPPacketEncoder.encode(.error(code: .accessViolation, message: "no")) == [0, 5, 0, 2, 0x6E, 0x6F, 0])
        #expect(TFTPPacketEncoder.optionAcknowledgement([TFTPOption(name: "a", value: "1")]) == [0, 6, 0x61, 0, 0x31, 0])
    }

    @Test func errorMessageNulBytesAreDropped() {
        #expect(TFTPPacketEncoder.error(.notDefined, "a\0b") == [0, 5, 0, 0, 0x61, 0x62, 0])
    }

    @Test func writesDataHeaderBigEndian() {
        var buffer = [UInt8](repeating: 0xEE, count: 6)
        buffer.withUnsafeMutableBytes { TFTPPacketEncoder.writeDataHeader(block: 0xA1B2, to: $0.baseAddress!) }
        #expect(buffer == [0, 3, 0xA1, 0xB2, 0xEE, 0xEE])
        #expect(TFTPPacketEncoder.dataHeaderSize == 4)
    }

    @Test func decodesRequestFields() throws {
        let bytes: [UInt8] =
            [0, 1] + Array("Boot/File.bin".utf8) + [0] + Array("NetASCII".utf8) + [0]
            + Array("BlkSize".utf8) + [0] + Array("1024".utf8) + [0]
        guard case .readRequest(let request) = try TFTPPacketDecoder.decode(bytes) else {
            Issue.record("not a read request")
            return
        }
        #expect(request.filename == "Boot/File.bin")
        #expect(request.filenameBytes == Array("Boot/File.bin".utf8))
        #expect(request.mode == "netascii")
        #expect(request.transferMode == .netascii)
        #expect(request.options == [TFTPOption(name: "BlkSize", value: "1024")])
    }

    @Test("unsupported or unknown modes decode with a nil transfer mode", arguments: ["mail", "MAIL", "binary", "octet "])
    func unsupportedMode(_ mode: String) throws {
        let bytes: [UInt8] = [0, 1, 0x66, 0] + Array(mode.utf8) + [0]
        guard case .readRequest(let request) = try TFTPPacketDecoder.decode(bytes) else {
            Issue.record("not a read request")
            return
        }
        #expect(request.transferMode == nil)
        #expect(request.mode == mode.lowercased())
    }

    @Test func invalidUTF8FileNameKeepsExactBytes() throws {
        let name: [UInt8] = [0xFF, 0xC3, 0x28, 0x2F]
        guard case .readRequest(let request) = try TFTPPacketDecoder.decode([0, 1] + name + [0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0]) else {
            Issue.record("not a read request")
            return
        }
        #expect(request.filenameBytes == name)
        #expect(request.filename.unicodeScalars.contains("\u{FFFD}"))
    }

    @Test func trailingZeroPaddingAfterOptionsIsIgnored() throws {
        let base: [UInt8] = [0, 1, 0x66, 0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0, 0x74, 0, 0x30, 0]
        let packet = try TFTPPacketDecoder.decode(base + [0, 0, 0, 0])
        #expect(packet == .readRequest(TFTPRequest(filename: "f", mode: "octet", options: [TFTPOption(name: "t", value: "0")])))
        let noOptions = try TFTPPacketDecoder.decode([0, 1, 0x66, 0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0, 0, 0])
        #expect(noOptions == .readRequest(TFTPRequest(filename: "f", mode: "octet")))
    }

    @Test func sixtyFourOptionsAreAccepted() throws {
        let packet = try TFTPPacketDecoder.decode(requestWithOptions(64))
        guard case .readRequest(let request) = packet else {
            Issue.record("not a read request")
            return
        }
        #expect(request.options.count == 64)
        #expect(request.options.last == TFTPOption(name: "o63", value: "63"))
    }

    @Test func errorMessageWithoutNulIsTakenWhole() throws {
        #expect(try TFTPPacketDecoder.decode([0, 5, 0, 8, 0x61, 0x62]) == .error(code: .optionNegotiationFailed, message: "ab"))
        #expect(try TFTPPacketDecoder.decode([0, 5, 0, 1]) == .error(code: .fileNotFound, message: ""))
        #expect(try TFTPPacketDecoder.decode([0, 5, 0, 1, 0x61, 0, 0x62]) == .error(code: .fileNotFound, message: "a"))
    }

    @Test func acknowledgementWithTrailingBytesDecodes() throws {
        #expect(try TFTPPacketDecoder.decode([0, 4, 0, 7, 9, 9]) == .acknowledgement(block: 7))
    }

    @Test func hotPathAcknowledgedBlock() {
        func ack(_ bytes: [UInt8]) -> UInt16? { bytes.withUnsafeBytes { TFTPPacketDecoder.acknowledgedBlock(in: $0) } }
        #expect(ack([0, 4, 0x12, 0x34]) == 0x1234)
        #expect(ack([0, 4, 0xFF, 0xFF, 1, 2, 3]) == 65535)
        #expect(ack([0, 4, 0]) == nil)
        #expect(ack([]) == nil)
        #expect(ack([0, 3, 0, 1]) == nil)
        #expect(ack([1, 4, 0, 1]) == nil)
    }

    @Test func hotPathOpcode() {
        func opcode(_ bytes: [UInt8]) -> TFTPOpcode? { bytes.withUnsafeBytes { TFTPPacketDecoder.opcode(of: $0) } }
        #expect(opcode([0, 1]) == .readRequest)
        #expect(opcode([0, 6, 9]) == .optionAcknowledgement)
        #expect(opcode([0]) == nil)
        #expect(opcode([]) == nil)
        #expect(opcode([0, 7]) == nil)
        #expect(opcode([1, 1]) == nil)
    }

    @Test func errorCodeDescriptions() {
        #expect(TFTPErrorCode.fileNotFound.description == "file not found (1)")
        #expect(TFTPErrorCode(rawValue: 99).description == "error (99)")
        #expect(TFTPErrorCode.optionNegotiationFailed.rawValue == 8)
    }

    @Test func transferIdentity() throws {
        #expect(
            try TFTPPacketDecoder.decode(TransferIdentity.unknownTransferIDReply)
                == .error(code: .unknownTransferID, message: "Unknown transfer ID"))
        #expect(TransferIdentity.isExpected("10.0.0.1:1234", expected: "10.0.0.1:1234"))
        #expect(!TransferIdentity.isExpected("10.0.0.1:1235", expected: "10.0.0.1:1234"))
    }
}

/// An RRQ for "f" in octet mode with options o0=0 ... o(n-1)=n-1.
func requestWithOptions(_ count: Int) -> [UInt8] {
    var bytes: [UInt8] = [0, 1, 0x66, 0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0]
    for i in 0..<count {
        bytes += Array("o\(i)".utf8) + [0] + Array("\(i)".utf8) + [0]
    }
    return bytes
}
