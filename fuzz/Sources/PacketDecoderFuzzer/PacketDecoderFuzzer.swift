// Arbitrary datagrams through TFTPPacketDecoder.
// Checks: decode never traps; whatever decodes re-encodes to bytes that decode to the same packet, and re-encoding
// that is a fixed point; the allocation-free hot-path readers (`opcode(of:)`, `acknowledgedBlock(in:)`) agree with
// `decode`; the Array and raw-buffer entry points agree.
import FuzzSupport
import TFTPProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func packetDecoderFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size)
    let hotOpcode = TFTPPacketDecoder.opcode(of: buffer)
    let hotAck = TFTPPacketDecoder.acknowledgedBlock(in: buffer)

    let decoded: TFTPPacket
    do {
        decoded = try TFTPPacketDecoder.decode(buffer)
    } catch {
        // Only an ACK-shaped datagram may be recognised by the hot path; anything it accepts, decode must accept.
        fuzzCheck(hotAck == nil, "acknowledgedBlock(in:) accepted \(Array(buffer)) but decode threw \(error)")
        fuzzCheck(!error.reason.isEmpty, "MalformedPacket without a reason")
        // The Array entry point must throw the same error.
        do {
            _ = try TFTPPacketDecoder.decode(Array(buffer))
            fuzzCheck(false, "decode([UInt8]) accepted what decode(buffer) rejected")
        } catch let arrayError {
            fuzzCheck(arrayError == error, "decode([UInt8]) threw \(arrayError), decode(buffer) threw \(error)")
        }
        return 0
    }

    // The Array entry point agrees.
    let viaArray = try? TFTPPacketDecoder.decode(Array(buffer))
    fuzzCheck(viaArray == decoded, "decode([UInt8]) gave \(String(describing: viaArray)), decode(buffer) gave \(decoded)")

    // Hot-path readers agree with the full decode.
    fuzzCheck(hotOpcode == decoded.opcode, "opcode(of:) = \(String(describing: hotOpcode)), decoded opcode = \(decoded.opcode)")
    if case .acknowledgement(let block) = decoded {
        fuzzCheck(hotAck == block, "acknowledgedBlock(in:) = \(String(describing: hotAck)), decoded ACK \(block)")
    } else {
        fuzzCheck(hotAck == nil, "acknowledgedBlock(in:) = \(String(describing: hotAck)) for \(decoded)")
    }

    // Structural limits the decoder promises.
    switch decoded {
    case .readRequest(let request), .writeRequest(let request):
        fuzzCheck(!request.filenameBytes.isEmpty, "request with an empty file name")
        fuzzCheck(!request.filenameBytes.contains(0), "file name contains NUL")
        fuzzCheck(!request.mode.isEmpty, "request with an empty mode")
        fuzzCheck(!request.mode.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }), "mode not lowercased: \(request.mode)")
        fuzzCheck(
            request.transferMode?.rawValue == nil || request.transferMode?.rawValue == request.mode, "transferMode disagrees with mode")
        checkOptions(request.options)
    case .optionAcknowledgement(let options):
        checkOptions(options)
    case .data(_, let payload):
        fuzzCheck(payload.count == size - 4, "DATA payload \(payload.count) bytes from a \(size)-byte datagram")
    case .error(_, let message):
        fuzzCheck(!message.utf8.contains(0), "ERROR message contains NUL")
    case .acknowledgement:
        fuzzCheck(size >= 4, "ACK decoded from \(size) bytes")
    }

    // Round trip: encode, decode again, same packet; encoding that again gives the same bytes.
    let encoded = TFTPPacketEncoder.encode(decoded)
    let again: TFTPPacket
    do {
        again = try TFTPPacketDecoder.decode(encoded)
    } catch {
        fuzzCheck(false, "re-encoded \(decoded) as \(encoded), which does not decode: \(error)")
        return 0
    }
    fuzzCheck(again == decoded, "round trip changed the packet: \(decoded) -> \(encoded) -> \(again)")
    let reencoded = TFTPPacketEncoder.encode(again)
    fuzzCheck(reencoded == encoded, "encoding is not a fixed point: \(encoded) vs \(reencoded)")
    encoded.withUnsafeBytes { bytes in
        fuzzCheck(TFTPPacketDecoder.opcode(of: bytes) == decoded.opcode, "opcode(of:) wrong on encoder output")
    }

    // The zero-copy DATA header writer matches the encoder.
    if case .data(let block, _) = decoded {
        var header = [UInt8](repeating: 0xAA, count: TFTPPacketEncoder.dataHeaderSize)
        header.withUnsafeMutableBytes { TFTPPacketEncoder.writeDataHeader(block: block, to: $0.baseAddress!) }
        fuzzCheck(Array(encoded.prefix(4)) == header, "writeDataHeader \(header) vs encode \(encoded.prefix(4))")
    }
    return 0
}

private func checkOptions(_ options: [TFTPOption]) {
    fuzzCheck(options.count <= TFTPPacketDecoder.maximumOptionCount, "\(options.count) options decoded")
    for option in options {
        fuzzCheck(!option.name.isEmpty, "empty option name decoded")
        fuzzCheck(!option.name.utf8.contains(0) && !option.value.utf8.contains(0), "option contains NUL")
    }
}
