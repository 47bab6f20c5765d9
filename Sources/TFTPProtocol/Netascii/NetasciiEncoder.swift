/// Streaming netascii encoder: LF -> CR LF, bare CR -> CR NUL. State carries the second byte of a pair that did not fit the previous output buffer.
public struct NetasciiEncoder: Hashable, Sendable {
    /// The second byte of a CR LF or CR NUL pair still owed to the output.
    public var pendingByte: UInt8?

    /// Creates an encoder at the start of a file.
    public init() {
        pendingByte = nil
    }

    /// Converts from input into output until one is exhausted (a pending byte is emitted first). Returns bytes consumed and written.
    public mutating func encode(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> (consumed: Int, written: Int) {
        var consumed = 0
        var written = 0
        if let pending = pendingByte {
            guard !output.isEmpty else { return (0, 0) }
            output[0] = pending
            written = 1
            pendingByte = nil
        }
        while consumed < input.count, written < output.count {
            let byte = input[consumed]
            consumed += 1
            let second: UInt8
            switch byte {
            case Netascii.lineFeed: second = Netascii.lineFeed
            case Netascii.carriageReturn: second = 0
            default:
                output[written] = byte
                written += 1
                continue
            }
            output[written] = Netascii.carriageReturn
            written += 1
            // A pair may straddle DATA blocks: the block boundary is fixed by blksize, not by the text.
            guard written < output.count else {
                pendingByte = second
                break
            }
            output[written] = second
            written += 1
        }
        return (consumed, written)
    }

    /// Converts a whole buffer at once.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16)
        for byte in bytes {
            switch byte {
            case Netascii.lineFeed: out += [Netascii.carriageReturn, Netascii.lineFeed]
            case Netascii.carriageReturn: out += [Netascii.carriageReturn, 0]
            default: out.append(byte)
            }
        }
        return out
    }

    /// Wire length of `bytes` after conversion (count LF and CR twice).
    public static func encodedLength(of bytes: UnsafeRawBufferPointer) -> UInt64 {
        var length = UInt64(bytes.count)
        for byte in bytes where byte == Netascii.lineFeed || byte == Netascii.carriageReturn {
            length += 1
        }
        return length
    }
}

/// Byte values netascii conversion cares about.
enum Netascii {
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
}
