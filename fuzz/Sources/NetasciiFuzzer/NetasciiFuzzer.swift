// Netascii conversion, one-shot against streaming.
// Checks: the streaming encoder, fed random input chunks into random (or fixed blksize) output buffers, produces
// exactly the one-shot encoding and always makes progress; encodedLength matches; decode(encode(x)) == x both in
// one shot and in random chunks; the streaming decoder agrees with itself however an arbitrary input is split.
import FuzzSupport
import TFTPProtocol

/// Deterministic chunk sizes from a seed taken from the input, so the data bytes stay free for the fuzzer.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func size(upTo limit: Int) -> Int { Int(next() % UInt64(limit + 1)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func netasciiFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    var random = SplitMix64(state: input.uint64())
    let fixedBlockSize = input.byte() & 1 == 1 ? input.int(in: 1...64) : nil
    let plain = input.rest()

    let encoded = NetasciiEncoder.encode(plain)
    let length = plain.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) }
    fuzzCheck(length == UInt64(encoded.count), "encodedLength \(length), one-shot encoding has \(encoded.count) bytes")
    let breaks = plain.filter { $0 == 0x0A || $0 == 0x0D }.count
    fuzzCheck(encoded.count == plain.count + breaks, "encoding grew by \(encoded.count - plain.count), not by the \(breaks) CR/LF")

    // Streaming encode: random input chunks; output buffers of random sizes (0 allowed) or of a fixed blksize, as the server uses.
    var streamed: [UInt8] = []
    var encoder = NetasciiEncoder()
    var offset = 0
    var calls = 0
    while offset < plain.count || encoder.pendingByte != nil {
        calls += 1
        fuzzCheck(calls <= 4 * (plain.count + 2) + 64, "streaming encoder made no progress (offset \(offset) of \(plain.count))")
        let chunkEnd = min(plain.count, offset + random.size(upTo: 9))
        let outputSize = fixedBlockSize ?? random.size(upTo: 7)
        var output = [UInt8](repeating: 0xEE, count: outputSize)
        let hadPending = encoder.pendingByte != nil
        let (consumed, written) = plain[offset..<chunkEnd].withUnsafeBytes { chunk in
            output.withUnsafeMutableBytes { encoder.encode(chunk, into: $0) }
        }
        fuzzCheck(consumed >= 0 && consumed <= chunkEnd - offset, "consumed \(consumed) of \(chunkEnd - offset)")
        fuzzCheck(written >= 0 && written <= outputSize, "wrote \(written) into \(outputSize)")
        if outputSize > 0, hadPending || chunkEnd > offset {
            fuzzCheck(written > 0, "no output into a \(outputSize)-byte buffer with input or a pending byte")
        }
        if written < outputSize, !(encoder.pendingByte != nil) {
            // Stopping short with room left means the input chunk ran out.
            fuzzCheck(consumed == chunkEnd - offset, "stopped at \(written)/\(outputSize) with input left")
        }
        streamed += output.prefix(written)
        offset += consumed
    }
    fuzzCheck(streamed == encoded, "streaming encoding \(streamed) differs from one-shot \(encoded) for \(plain)")

    // Round trip, one shot.
    var decoder = NetasciiDecoder()
    let roundTrip = decoder.decode(encoded) + decoder.finish()
    fuzzCheck(roundTrip == plain, "decode(encode(x)) = \(roundTrip), x = \(plain)")

    // Round trip, random chunks.
    fuzzCheck(decodeInChunks(encoded, &random) == plain, "chunked decode(encode(x)) differs from x = \(plain)")

    // Arbitrary (often invalid) netascii: chunking must not change the result, and decoding never grows the data.
    var oneShot = NetasciiDecoder()
    let whole = oneShot.decode(plain) + oneShot.finish()
    fuzzCheck(whole.count <= plain.count, "decoding grew \(plain.count) bytes to \(whole.count)")
    fuzzCheck(decodeInChunks(plain, &random) == whole, "chunked decode differs from one-shot decode for \(plain)")
    return 0
}

private func decodeInChunks(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
    var decoder = NetasciiDecoder()
    var out: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + random.size(upTo: 9))
        out += decoder.decode(Array(bytes[offset..<end]))
        offset = end
    }
    return out + decoder.finish()
}
