/// Parses option values: plain decimal digits only, saturating instead of trapping on overflow.
enum DecimalParser {
    /// The value of `text` if it is one or more ASCII digits (no sign, no spaces); huge values saturate at `UInt64.max`.
    static func parse(_ text: String) -> UInt64? {
        var value: UInt64 = 0
        var sawDigit = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            sawDigit = true
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            // Out-of-range numbers stay "very large" so range checks still reject or clamp them.
            value = (o1 || o2) ? UInt64.max : sum
        }
        return sawDigit ? value : nil
    }
}
