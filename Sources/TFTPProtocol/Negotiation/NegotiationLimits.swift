/// What the server is willing to grant, whatever a client asks for.
public struct NegotiationLimits: Hashable, Sendable {
    /// The blksize range RFC 2348 allows.
    public static let blockSizeRange = 8...65464
    /// The windowsize range granted: up to 32767, the largest window in which a 16-bit block number
    /// still tells a delayed (stale) ACK from a new one.
    public static let windowSizeRange = 1...32767

    /// The largest blksize granted (in ``blockSizeRange``).
    public var maximumBlockSize: Int
    /// The largest windowsize granted (1...32767).
    public var maximumWindowSize: Int

    /// Creates limits; values are clamped into the ranges the protocol allows. The defaults
    /// grant what a client asks within the protocol's blksize range, and windows up to 64.
    public init(maximumBlockSize: Int = Self.blockSizeRange.upperBound, maximumWindowSize: Int = 64) {
        self.maximumBlockSize = min(max(maximumBlockSize, Self.blockSizeRange.lowerBound), Self.blockSizeRange.upperBound)
        self.maximumWindowSize = min(max(maximumWindowSize, Self.windowSizeRange.lowerBound), Self.windowSizeRange.upperBound)
    }
}
