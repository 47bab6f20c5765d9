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

/// HTTP dates: RFC 9110's own example, a leap day, the epoch and a date before it.
@Suite struct HTTPDateTests {
    @Test(arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"), (951_825_599, "Tue, 29 Feb 2000 11:59:59 GMT"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"), (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
    ])
    func imfFixdate(seconds: Int64, expected: String) {
        #expect(WallClock.httpDate(epochSeconds: seconds) == expected)
    }
}
