/// A bounds-checked cursor over a datagram; every read fails softly instead of trapping.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Bytes not yet read.
    var remaining: Int { bytes.count - position }

    /// Reads a big-endian 16-bit number, or nil if fewer than 2 bytes remain.
    mutating func readUInt16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        let value = UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        position += 2
        return value
    }

    /// Reads up to (not including) the next NUL and skips the NUL; nil if there is no NUL.
    mutating func readNulTerminated() -> UnsafeRawBufferPointer? {
        var end = position
        while end < bytes.count {
            if bytes[end] == 0 {
                let field = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
                position = end + 1
                return field
            }
            end += 1
        }
        return nil
    }

    /// Reads everything left.
    mutating func readRest() -> UnsafeRawBufferPointer {
        let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
        position = bytes.count
        return rest
    }

    /// True if every remaining byte is zero (also when none remain).
    var restIsZeroPadding: Bool {
        var index = position
        while index < bytes.count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }
}

extension String {
    /// Decodes bytes as UTF-8, replacing invalid sequences.
    init(lossyUTF8 bytes: UnsafeRawBufferPointer) {
        self.init(decoding: bytes, as: UTF8.self)
    }
}
