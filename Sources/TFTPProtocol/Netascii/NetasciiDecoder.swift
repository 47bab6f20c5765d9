/// The inverse (for clients/tests): CR LF -> LF, CR NUL -> CR; streaming with a pending CR.
public struct NetasciiDecoder: Hashable, Sendable {
    /// True when the last byte seen was a CR whose partner has not arrived yet.
    private var pendingCarriageReturn = false

    /// Creates a decoder at the start of a transfer.
    public init() {}

    /// Converts the next chunk; a CR at its end is held until the next chunk or `finish()`.
    public mutating func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if pendingCarriageReturn {
                pendingCarriageReturn = false
                switch byte {
                case Netascii.lineFeed:
                    out.append(Netascii.lineFeed)
                    continue
                case 0:
                    out.append(Netascii.carriageReturn)
                    continue
                default:
                    // A CR followed by anything else is invalid netascii: keep it rather than lose data.
                    out.append(Netascii.carriageReturn)
                }
            }
            if byte == Netascii.carriageReturn {
                pendingCarriageReturn = true
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// Ends the stream, releasing a trailing CR if one is held.
    public mutating func finish() -> [UInt8] {
        defer { pendingCarriageReturn = false }
        return pendingCarriageReturn ? [Netascii.carriageReturn] : []
    }
}
