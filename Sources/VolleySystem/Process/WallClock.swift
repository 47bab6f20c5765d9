import Glibc

/// The time of day, for log lines and HTTP dates (the reactor itself only ever uses
/// ``MonotonicClock``). Formatted from the C library's UTC calendar, so no locale or time zone
/// setting of the machine changes the text.
public enum WallClock {
    /// Now in UTC with milliseconds, ISO 8601: `2026-12-01T03:35:50.123Z`.
    public static func utcTimestamp() -> String {
        utcTimestamp(epochMilliseconds: epochMilliseconds())
    }

    /// Milliseconds since the epoch, now: cheap to take where formatting would cost (a reactor thread).
    public static func epochMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000)
    }

    /// `milliseconds` since the epoch in UTC, ISO 8601: `2026-12-01T03:35:50.123Z`.
    public static func utcTimestamp(epochMilliseconds milliseconds: Int64) -> String {
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let parts = utc(time_t(seconds))
        return "\(digits(parts.tm_year + 1900, 4))-\(digits(parts.tm_mon + 1, 2))-\(digits(parts.tm_mday, 2))"
            + "T\(time(of: parts)).\(digits(Int32(fraction), 3))Z"
    }

    /// `seconds` since the epoch as an HTTP date (RFC 9110 §5.6.7, IMF-fixdate):
    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func httpDate(epochSeconds seconds: Int64) -> String {
        let parts = utc(time_t(seconds))
        return "\(weekdays[Int(parts.tm_wday)]), \(digits(parts.tm_mday, 2)) \(months[Int(parts.tm_mon)]) "
            + "\(digits(parts.tm_year + 1900, 4)) \(time(of: parts)) GMT"
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The UTC calendar fields of `seconds` since the epoch.
    private static func utc(_ seconds: time_t) -> tm {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    /// `HH:MM:SS`.
    private static func time(of parts: tm) -> String {
        "\(digits(parts.tm_hour, 2)):\(digits(parts.tm_min, 2)):\(digits(parts.tm_sec, 2))"
    }

    /// `value` in decimal, zero-padded to `width` digits.
    private static func digits(_ value: Int32, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
