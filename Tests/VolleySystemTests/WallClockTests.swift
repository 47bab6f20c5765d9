import Foundation
import Testing
import VolleySystem

/// The log lines' timestamps: UTC, ISO 8601, milliseconds.
@Suite struct WallClockTests {
    @Test func timestampIsUTCWithMilliseconds() throws {
        let before = Date()
        let text = WallClock.utcTimestamp()
        let after = Date()
        #expect(text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(text)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: text))
        #expect(parsed >= before.addingTimeInterval(-0.002) && parsed <= after.addingTimeInterval(0.002), "\(text)")
    }
}
