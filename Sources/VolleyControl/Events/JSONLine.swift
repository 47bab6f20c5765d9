/// A compact JSON object written field by field: the event stream's encoder. Foundation's
/// `JSONSerialization` sorts keys with locale-aware comparison and boxes every value, which
/// cost a subscriber more than the transfer it reports; this appends bytes, nothing more.
struct JSONLine {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init() {
        bytes.reserveCapacity(384)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func field(_ key: String, _ value: String) {
        name(key)
        Self.appendString(value, to: &bytes)
    }

    mutating func field(_ key: String, _ value: some BinaryInteger) {
        name(key)
        bytes += value.description.utf8
    }

    /// A number of seconds, to the millisecond.
    mutating func field(_ key: String, seconds value: Double) {
        name(key)
        let milliseconds = (value * 1000).rounded()
        guard milliseconds.isFinite, abs(milliseconds) < 1e15 else {
            bytes += "0".utf8
            return
        }
        let whole = Int64(milliseconds)
        let (integral, fraction) = (whole / 1000, abs(whole % 1000))
        bytes += "\(whole < 0 && integral == 0 ? "-" : "")\(integral)".utf8
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 3 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            bytes += ".\(digits)".utf8
        }
    }

    /// A nested object.
    mutating func field(_ key: String, object: (inout JSONLine) -> Void) {
        name(key)
        var nested = JSONLine()
        object(&nested)
        bytes += nested.finished
    }

    /// The object's bytes, closed.
    var finished: [UInt8] { bytes + [UInt8(ascii: "}")] }

    private mutating func name(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        Self.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    /// `text` as a JSON string (RFC 8259 §7): quote, backslash and control characters escaped.
    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += "\\\"".utf8
            case UInt8(ascii: "\\"): bytes += "\\\\".utf8
            case UInt8(ascii: "\n"): bytes += "\\n".utf8
            case UInt8(ascii: "\r"): bytes += "\\r".utf8
            case UInt8(ascii: "\t"): bytes += "\\t".utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += "\\u00".utf8
                bytes += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
