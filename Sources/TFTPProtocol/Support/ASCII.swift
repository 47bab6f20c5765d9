/// Small ASCII helpers: TFTP names and modes are case-insensitive ASCII, and Unicode case mapping must not apply.
enum ASCII {
    /// `s` with A–Z mapped to a–z and every other byte unchanged.
    static func lowercased(_ s: String) -> String {
        var utf8 = Array(s.utf8)
        var changed = false
        for i in utf8.indices where utf8[i] >= 0x41 && utf8[i] <= 0x5A {
            utf8[i] |= 0x20
            changed = true
        }
        return changed ? String(decoding: utf8, as: UTF8.self) : s
    }

    /// `s` made safe for a one-line log: control and non-ASCII bytes become "?", long values are cut.
    static func loggable(_ s: String, limit: Int = 40) -> String {
        var out: [UInt8] = []
        for byte in s.utf8.prefix(limit) {
            out.append(byte >= 0x20 && byte < 0x7F ? byte : UInt8(ascii: "?"))
        }
        if s.utf8.count > limit { out.append(contentsOf: "...".utf8) }
        return String(decoding: out, as: UTF8.self)
    }
}
