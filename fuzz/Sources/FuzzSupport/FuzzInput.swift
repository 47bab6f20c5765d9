/// A cursor over libFuzzer's bytes that hands out typed values; when the bytes run out it returns zeros and empty arrays.
public struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    /// Wraps `count` bytes at `start` (start may be nil when count is 0).
    public init(_ start: UnsafeRawPointer?, _ count: Int) {
        bytes = UnsafeRawBufferPointer(start: count > 0 ? start : nil, count: count)
    }

    /// Bytes not yet consumed.
    public var remaining: Int { bytes.count - position }

    /// True when every byte has been consumed.
    public var isExhausted: Bool { remaining <= 0 }

    /// The next byte, or 0.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next two bytes, big-endian, or 0.
    public mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    /// The next four bytes, big-endian, or 0.
    public mutating func uint32() -> UInt32 {
        UInt32(uint16()) << 16 | UInt32(uint16())
    }

    /// The next eight bytes, big-endian, or 0.
    public mutating func uint64() -> UInt64 {
        UInt64(uint32()) << 32 | UInt64(uint32())
    }

    /// A value in `range` (whose width must fit in an Int), from as few bytes as the range needs.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound)
        let raw: UInt64
        switch span {
        case 0: return range.lowerBound
        case 1...0xFF: raw = UInt64(byte())
        case 0x100...0xFFFF: raw = UInt64(uint16())
        case 0x1_0000...0xFFFF_FFFF: raw = UInt64(uint32())
        default: raw = uint64()
        }
        // span comes from an Int difference, so span + 1 cannot overflow.
        return range.lowerBound + Int(raw % (span + 1))
    }

    /// A Bool from the low bit of the next byte.
    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// Up to `count` next bytes (fewer at the end).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        let n = max(0, min(count, remaining))
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    /// Everything not yet consumed.
    public mutating func rest() -> [UInt8] { bytes(remaining) }

    /// A length-prefixed (one byte) chunk.
    public mutating func chunk() -> [UInt8] { bytes(Int(byte())) }
}

/// Stops the fuzzer with a message libFuzzer records beside the reproducer.
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("invariant violated: \(message())", file: file, line: line)
    }
}
