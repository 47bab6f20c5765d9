import Testing
import VolleyTestSupport
import TFTPProtocol

@Suite("netascii conversion")
struct NetasciiTests {
    private let lf: UInt8 = 0x0A
    private let cr: UInt8 = 0x0D

    @Test func encodesLineEndingsAndBareCarriageReturns() {
        #expect(NetasciiEncoder.encode(Array("a\nb".utf8)) == [0x61, cr, lf, 0x62])
        #expect(NetasciiEncoder.encode(Array("a\rb".utf8)) == [0x61, cr, 0, 0x62])
        // A file's own CR LF is two bytes to convert, so the client gets CR LF back exactly.
        #expect(NetasciiEncoder.encode([cr, lf]) == [cr, 0, cr, lf])
        #expect(NetasciiEncoder.encode([]) == [])
        #expect(NetasciiEncoder.encode([0, 0x7F, 0xFF]) == [0, 0x7F, 0xFF])
    }

    @Test func encodedLengthCountsLineFeedsAndCarriageReturnsTwice() {
        let text: [UInt8] = [0x61, lf, cr, cr, lf, 0x62, 0]
        #expect(text.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) } == 11)
        #expect(text.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) } == UInt64(NetasciiEncoder.encode(text).count))
    }

    @Test func pairSplitAcrossOutputBuffers() {
        var encoder = NetasciiEncoder()
        let input: [UInt8] = [0x61, lf, 0x62]
        var first = [UInt8](repeating: 0xEE, count: 2)
        let r1 = input.withUnsafeBytes { i in first.withUnsafeMutableBytes { encoder.encode(i, into: $0) } }
        #expect(r1.consumed == 2 && r1.written == 2)
        #expect(first == [0x61, cr])
        #expect(encoder.pendingByte == lf)

        // An empty output buffer must not lose the pending byte.
        let none = input.withUnsafeBytes { i in
            encoder.encode(UnsafeRawBufferPointer(rebasing: i[2...]), into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        #expect(none.consumed == 0 && none.written == 0 && encoder.pendingByte == lf)

        var second = [UInt8](repeating: 0xEE, count: 8)
        let r2 = input.withUnsafeBytes { i in
            second.withUnsafeMutableBytes { encoder.encode(UnsafeRawBufferPointer(rebasing: i[2...]), into: $0) }
        }
        #expect(r2.consumed == 1 && r2.written == 2)
        #expect(Array(second.prefix(2)) == [lf, 0x62])
        #expect(encoder.pendingByte == nil)
    }

    @Test func pendingByteIsEmittedEvenWithNoInput() {
        var encoder = NetasciiEncoder()
        var out = [UInt8](repeating: 0, count: 1)
        _ = [cr].withUnsafeBytes { i in out.withUnsafeMutableBytes { encoder.encode(i, into: $0) } }
        #expect(out == [cr] && encoder.pendingByte == 0)
        out = [0xEE]
        let r = [UInt8]().withUnsafeBytes { i in out.withUnsafeMutableBytes { encoder.encode(i, into: $0) } }
        #expect(r.consumed == 0 && r.written == 1 && out == [0] && encoder.pendingByte == nil)
    }

    @Test("streaming through any buffer size equals one-shot encoding", arguments: [1, 2, 3, 7, 512])
    func streamingMatchesOneShot(_ bufferSize: Int) {
        var random = SplitMix64(seed: UInt64(bufferSize))
        let input = (0..<3000).map { _ in [lf, cr, 0x41, 0][Int(random.next() % 4)] }
        var encoder = NetasciiEncoder()
        var streamed: [UInt8] = []
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while offset < input.count || encoder.pendingByte != nil {
            let (consumed, written) = input.withUnsafeBytes { i in
                buffer.withUnsafeMutableBytes { encoder.encode(UnsafeRawBufferPointer(rebasing: i[offset...]), into: $0) }
            }
            #expect(written > 0)
            if written == 0 { break }
            offset += consumed
            streamed += buffer.prefix(written)
        }
        #expect(streamed == NetasciiEncoder.encode(input))
        #expect(UInt64(streamed.count) == input.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) })
    }

    @Test func decodesWireLineEndings() {
        var decoder = NetasciiDecoder()
        #expect(decoder.decode([0x61, cr, lf, 0x62, cr, 0, 0x63]) == [0x61, lf, 0x62, cr, 0x63])
        #expect(decoder.finish() == [])
    }

    @Test func decoderHoldsCarriageReturnAcrossChunks() {
        var decoder = NetasciiDecoder()
        #expect(decoder.decode([0x61, cr]) == [0x61])
        #expect(decoder.decode([lf]) == [lf])
        #expect(decoder.decode([cr]) == [])
        #expect(decoder.decode([0]) == [cr])
        #expect(decoder.decode([cr]) == [])
        #expect(decoder.finish() == [cr])
        #expect(decoder.finish() == [])
    }

    @Test func decoderKeepsInvalidCarriageReturn() {
        var decoder = NetasciiDecoder()
        #expect(decoder.decode([cr, 0x41, cr, cr, lf]) == [cr, 0x41, cr, lf])
    }

    @Test func randomRoundTripInChunks() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let input = (0..<Int(random.next() % 600)).map { _ in
                random.next() % 3 == 0 ? [lf, cr, 0][Int(random.next() % 3)] : random.nextByte()
            }
            let wire = NetasciiEncoder.encode(input)
            var decoder = NetasciiDecoder()
            var decoded: [UInt8] = []
            var offset = 0
            while offset < wire.count {
                let chunk = min(wire.count - offset, 1 + Int(random.next() % 9))
                decoded += decoder.decode(Array(wire[offset..<offset + chunk]))
                offset += chunk
            }
            decoded += decoder.finish()
            #expect(decoded == input)
        }
    }
}
