import Testing
import TFTPProtocol

/// RFC 6298's estimator and the retransmission policy's adaptive range.
@Suite("Round-trip estimator")
struct RoundTripEstimatorTests {
    @Test func estimatorFollowsRFC6298() {
        var e = RoundTripEstimator()
        #expect(e.smoothedMicroseconds == nil)
        #expect(e.timeoutMilliseconds(clockGranularityMilliseconds: 1) == nil)
        // First sample: SRTT = R, RTTVAR = R/2, RTO = R + 4 R/2.
        e.addSample(milliseconds: 100)
        #expect(e.smoothedMicroseconds == 100_000 && e.variationMicroseconds == 50_000)
        #expect(e.timeoutMilliseconds(clockGranularityMilliseconds: 1) == 300)
        // RTTVAR = 3/4 50 + 1/4 |100 - 200| = 62.5; SRTT = 7/8 100 + 1/8 200 = 112.5; RTO = 112.5 + 250, rounded up.
        e.addSample(milliseconds: 200)
        #expect(e.smoothedMicroseconds == 112_500 && e.variationMicroseconds == 62_500)
        #expect(e.timeoutMilliseconds(clockGranularityMilliseconds: 1) == 363)
        #expect(e.sampleCount == 2)
        // A zero round trip leaves only the granularity.
        var zero = RoundTripEstimator()
        zero.addSample(milliseconds: 0)
        #expect(zero.timeoutMilliseconds(clockGranularityMilliseconds: 1) == 1)
        // Absurd samples saturate instead of overflowing.
        var huge = RoundTripEstimator()
        huge.addSample(milliseconds: .max)
        huge.addSample(milliseconds: .max)
        #expect(huge.smoothedMicroseconds == Int(RoundTripEstimator.maximumSampleMilliseconds) * 1000)
    }

    @Test func policyDefaultsAndRange() {
        let policy = RetransmissionPolicy()
        #expect(policy.isAdaptive)
        #expect(RetransmissionPolicy.minimumAdaptiveTimeoutMilliseconds == 50)
        #expect(policy.adaptiveTimeoutRange == 50...8000)
        // A ceiling under the floor wins.
        #expect(RetransmissionPolicy(initialTimeoutMilliseconds: 10, maximumTimeoutMilliseconds: 20).adaptiveTimeoutRange == 20...20)
    }

    @Test func silenceLimitIsWhatTheConfiguredScheduleTakes() {
        #expect(RetransmissionPolicy().silenceLimitMilliseconds == 1000 + 2000 + 4000 + 8000 + 8000 + 8000)
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: 100, maximumTimeoutMilliseconds: 100, maximumRetransmissions: 2)
                .silenceLimitMilliseconds == 300)
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: 300, maximumTimeoutMilliseconds: 1000, maximumRetransmissions: 0)
                .silenceLimitMilliseconds == 300)
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: 0, maximumTimeoutMilliseconds: -5, maximumRetransmissions: -1)
                .silenceLimitMilliseconds == 1)
        // Huge values saturate instead of trapping or looping for ever.
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: 1000, maximumTimeoutMilliseconds: 8000, maximumRetransmissions: .max)
                .silenceLimitMilliseconds == .max)
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: .max, maximumTimeoutMilliseconds: .max, maximumRetransmissions: 1)
                .silenceLimitMilliseconds == .max)
        #expect(
            RetransmissionPolicy(initialTimeoutMilliseconds: 1, maximumTimeoutMilliseconds: .max, maximumRetransmissions: 100)
                .silenceLimitMilliseconds == .max)
    }
}
