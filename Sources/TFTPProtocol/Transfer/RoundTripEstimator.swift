/// RFC 6298's round-trip estimator: the smoothed round-trip time (SRTT) and its variation (RTTVAR), and the
/// retransmission timeout RTO = SRTT + max(G, 4·RTTVAR) they give.
///
/// Samples are whole milliseconds (the loop's clock); the state is kept in microseconds so that sub-millisecond
/// averages survive the 1/8 and 1/4 gains (alpha = 1/8, beta = 1/4, integer arithmetic, truncating).
public struct RoundTripEstimator: Hashable, Sendable {
    /// Samples longer than this (a day) are taken as this, so the arithmetic cannot overflow.
    public static let maximumSampleMilliseconds: UInt64 = 86_400_000

    /// SRTT in microseconds; nil before the first sample.
    public private(set) var smoothedMicroseconds: Int?
    /// RTTVAR in microseconds; 0 before the first sample.
    public private(set) var variationMicroseconds = 0
    /// How many samples were taken.
    public private(set) var sampleCount = 0

    /// Creates an estimator with no samples.
    public init() {}

    /// Takes one round-trip measurement R (RFC 6298 §2.2 for the first, §2.3 for the ones after it).
    public mutating func addSample(milliseconds: UInt64) {
        let sample = Int(min(milliseconds, Self.maximumSampleMilliseconds)) * 1000
        sampleCount += 1
        guard let smoothed = smoothedMicroseconds else {
            smoothedMicroseconds = sample
            variationMicroseconds = sample / 2
            return
        }
        // RTTVAR first, from the old SRTT: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT <- 7/8 SRTT + 1/8 R.
        variationMicroseconds = (3 * variationMicroseconds + abs(smoothed - sample)) / 4
        smoothedMicroseconds = (7 * smoothed + sample) / 8
    }

    /// RTO = SRTT + max(G, 4·RTTVAR), rounded up to whole milliseconds; nil before the first sample.
    /// No floor or ceiling: the caller applies its own.
    public func timeoutMilliseconds(clockGranularityMilliseconds granularity: Int) -> Int? {
        guard let smoothed = smoothedMicroseconds else { return nil }
        let clamped = min(max(granularity, 0), Int(Self.maximumSampleMilliseconds))
        let microseconds = smoothed + max(clamped * 1000, 4 * variationMicroseconds)
        return (microseconds + 999) / 1000
    }
}
