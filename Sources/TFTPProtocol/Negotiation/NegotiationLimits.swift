/// What the server is willing to grant, whatever a client asks for.
public struct NegotiationLimits: Hashable, Sendable {
    /// The blksize range RFC 2348 allows.
    public static let blockSizeRange = 8...65464

    /// The largest blksize granted (8...65464).
    public var maximumBlockSize: Int
    /// The largest windowsize granted (at least 1).
    public var maximumWindowSize: Int

    /// Creates limits; values are clamped into the ranges the protocol allows.
    public init(maximumBlockSize: Int = 65464, maximumWindowSize: Int = 64) {
        self.maximumBlockSize = min(max(maximumBlockSize, Self.blockSizeRange.lowerBound), Self.blockSizeRange.upperBound)
        // Above 65535 a window would repeat block numbers and ACKs would become ambiguous.
        self.maximumWindowSize = min(max(maximumWindowSize, 1), Int(UInt16.max))
    }
}
