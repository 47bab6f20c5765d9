import Testing
import VolleyTestSupport
@testable import TFTPProtocol

@Suite("Malformed datagrams throw and never crash")
struct MalformedPacketTests {
    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("1 byte", [0]),
        ("1 byte RRQ-ish", [1]),
        ("opcode 0", [0, 0, 0, 0]),
        ("opcode 7", [0, 7, 0, 0]),
        ("opcode 65535", [0xFF, 0xFF, 0, 0]),
        ("2 byte DATA", [0, 3]),
        ("3 byte DATA", [0, 3, 0]),
        ("2 byte ACK", [0, 4]),
        ("3 byte ACK", [0, 4, 1]),
        ("2 byte ERROR", [0, 5]),
        ("3 byte ERROR", [0, 5, 0]),
        ("bare RRQ", [0, 1]),
        ("RRQ no NUL after file name", [0, 1, 0x66, 0x6F]),
        ("RRQ empty file name", [0, 1, 0, 0x6F, 0x63, 0x74, 0x65, 0x74, 0]),
        ("RRQ no mode", [0, 1, 0x66, 0]),
        ("RRQ mode without NUL", [0, 1, 0x66, 0, 0x6F, 0x63]),
        ("RRQ empty mode", [0, 1, 0x66, 0, 0]),
        ("WRQ no NUL", [0, 2, 0x66]),
        ("odd options: name without value", [0, 1, 0x66, 0, 0x6F, 0, 0x62, 0]),
        ("option name without NUL", [0, 1, 0x66, 0, 0x6F, 0, 0x62]),
        ("option value without NUL", [0, 1, 0x66, 0, 0x6F, 0, 0x62, 0, 0x31]),
        ("empty option name before a value", [0, 1, 0x66, 0, 0x6F, 0, 0, 0x31, 0]),
        ("OACK odd strings", [0, 6, 0x62, 0]),
        ("OACK name without NUL", [0, 6, 0x62]),
    ]

    @Test("rejects", arguments: malformed)
    func rejects(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: MalformedPacket.self, "\(name)") { try TFTPPacketDecoder.decode(bytes) }
    }

    @Test func sixtyFiveOptionsAreRejected() {
        #expect(throws: MalformedPacket(reason: "more than 64 options")) {
            try TFTPPacketDecoder.decode(requestWithOptions(65))
        }
    }

    @Test func reasonsAreSpecific() {
        #expect(throws: MalformedPacket(reason: "request has no NUL after the file name")) {
            try TFTPPacketDecoder.decode([0, 1, 0x66])
        }
        #expect(throws: MalformedPacket(reason: "unknown opcode 7")) { try TFTPPacketDecoder.decode([0, 7]) }
        #expect(throws: MalformedPacket(reason: "ERROR shorter than 4 bytes")) { try TFTPPacketDecoder.decode([0, 5, 0]) }
        #expect(throws: MalformedPacket(reason: "odd number of option strings")) {
            try TFTPPacketDecoder.decode([0, 1, 0x66, 0, 0x6F, 0, 0x62, 0])
        }
        #expect(MalformedPacket(reason: "x").description == "x")
    }

    /// Random and mutated datagrams: the decoder must return or throw, and anything it accepts must re-encode and decode to the same packet.
    @Test func randomizedBuffersNeverCrash() {
        var random = SplitMix64(seed: 0x7F7F_2019_1136_5)
        let seeds: [[UInt8]] = PacketCodecTests.roundTripPackets.map(TFTPPacketEncoder.encode) + [requestWithOptions(64)]
        var accepted = 0
        var rejected = 0
        for iteration in 0..<50_000 {
            var bytes: [UInt8]
            if iteration % 2 == 0 {
                // Pure noise, biased to short lengths and small opcodes where the parsers branch.
                let length = Int(random.next() % 48)
                bytes = (0..<length).map { _ in random.nextByte() }
                if length >= 2, random.next() % 4 != 0 {
                    bytes[0] = 0
                    bytes[1] = UInt8(random.next() % 8)
                }
            } else {
                bytes = seeds[Int(random.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + random.next() % 4) { mutate(&bytes, &random) }
            }
            do {
                let packet = try TFTPPacketDecoder.decode(bytes)
                accepted += 1
                if packet.isCanonicallyEncodable {
                    #expect(try TFTPPacketDecoder.decode(TFTPPacketEncoder.encode(packet)) == packet, "\(bytes)")
                }
            } catch {
                rejected += 1
            }
            _ = bytes.withUnsafeBytes { TFTPPacketDecoder.acknowledgedBlock(in: $0) }
            _ = bytes.withUnsafeBytes { TFTPPacketDecoder.opcode(of: $0) }
        }
        // Both outcomes must be exercised, or the generator is not testing anything.
        #expect(accepted > 5_000)
        #expect(rejected > 5_000)
    }

    private func mutate(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
        switch random.next() % 5 {
        case 0 where !bytes.isEmpty:
            bytes[Int(random.next() % UInt64(bytes.count))] = random.nextByte()
        case 1 where !bytes.isEmpty:
            bytes.removeLast(Int(random.next() % UInt64(bytes.count + 1)))
        case 2:
            bytes.insert(random.next() % 2 == 0 ? 0 : random.nextByte(), at: Int(random.next() % UInt64(bytes.count + 1)))
        case 3 where !bytes.isEmpty:
            bytes.remove(at: Int(random.next() % UInt64(bytes.count)))
        default:
            bytes += [0, 0]
        }
    }
}

extension TFTPPacket {
    /// False for packets whose lossy-decoded strings (U+FFFD) or NULs would not re-encode to the same bytes.
    var isCanonicallyEncodable: Bool {
        func clean(_ s: String) -> Bool { !s.unicodeScalars.contains("\u{FFFD}") && !s.utf8.contains(0) }
        switch self {
        case .readRequest(let r), .writeRequest(let r):
            return clean(r.filename) && clean(r.mode) && r.options.allSatisfy { clean($0.name) && clean($0.value) }
                && r.mode == r.mode.lowercased()
        case .optionAcknowledgement(let options):
            return options.allSatisfy { clean($0.name) && clean($0.value) }
        case .error(_, let message):
            return clean(message)
        case .data, .acknowledgement:
            return true
        }
    }
}
