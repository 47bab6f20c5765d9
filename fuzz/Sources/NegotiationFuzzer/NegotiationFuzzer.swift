// Arbitrary option lists and limits through OptionNegotiator.negotiate, checked against an independent model.
// Checks: only requested, known names are acknowledged, once each, lowercase, in the client's order, first occurrence
// winning; blksize in 8...min(server limit, MTU cap, requested); windowsize in 1...min(limit, 32767, requested);
// timeout 1...255 and exactly as requested; tsize is the real size, or not acknowledged (with a note) when the size is
// unknown; the result fields match the OACK; the OACK round-trips through the codec; log notes are printable one-line ASCII.
import FuzzSupport
import TFTPProtocol

private let knownNames = ["blksize", "timeout", "tsize", "windowsize"]

@_cdecl("LLVMFuzzerTestOneInput")
public func negotiationFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)

    var limits = NegotiationLimits(
        maximumBlockSize: input.int(in: -100...70_000),
        maximumWindowSize: input.int(in: -10...70_000)
    )
    // The limits are public vars: a caller may set them past the clamping init.
    if input.byte() & 0x0F == 0 {
        limits.maximumBlockSize = input.int(in: -100_000...100_000)
        limits.maximumWindowSize = input.int(in: -100_000...100_000)
    }
    let blockSizeCap: Int? = input.bool() ? input.int(in: -100...70_000) : nil
    // Bit 1 set: the size is not known up front (a large netascii file), so tsize must not be acknowledged.
    let sizeMode = input.byte()
    let transferSize: UInt64? = sizeMode & 2 != 0 ? nil : (sizeMode & 1 == 1 ? input.uint64() : UInt64(input.uint32()))

    var options: [TFTPOption] = []
    while !input.isExhausted, options.count < 80 {
        options.append(TFTPOption(name: makeName(&input), value: makeValue(&input)))
    }

    let result = OptionNegotiator.negotiate(options, limits: limits, transferSize: transferSize, blockSizeCap: blockSizeCap)
    let expected = model(options, limits: limits, transferSize: transferSize, blockSizeCap: blockSizeCap)

    // Every acknowledged option is known, canonical, unique, and was requested.
    var names: Set<String> = []
    for option in result.acknowledgedOptions {
        fuzzCheck(knownNames.contains(option.name), "acknowledged unknown or non-canonical name \(option.name)")
        fuzzCheck(names.insert(option.name).inserted, "acknowledged \(option.name) twice")
        fuzzCheck(options.contains { asciiLowercased($0.name) == option.name }, "acknowledged \(option.name), never requested")
        fuzzCheck(parseDecimal(option.value) != nil, "non-decimal acknowledged value \(option.value)")
    }
    fuzzCheck(
        result.acknowledgedOptions == expected.acknowledged,
        "OACK \(result.acknowledgedOptions) but model expects \(expected.acknowledged) for \(options) limits \(limits) cap \(String(describing: blockSizeCap))"
    )

    // Ranges, independent of the model's arithmetic.
    let serverMaximum = min(max(limits.maximumBlockSize, 8), 65464)
    let windowMaximum = min(max(limits.maximumWindowSize, 1), NegotiationLimits.windowSizeRange.upperBound)
    if let value = acknowledged("blksize", result) {
        let requested = expected.requested["blksize"]!
        let upper = min(serverMaximum, blockSizeCap.map { max($0, 8) } ?? Int.max, requested > UInt64(Int.max) ? Int.max : Int(requested))
        fuzzCheck((8...upper).contains(Int(value)), "blksize \(value) outside 8...\(upper)")
        fuzzCheck(result.blockSize == Int(value), "blockSize \(result.blockSize) but OACK says \(value)")
    } else {
        fuzzCheck(result.blockSize == 512, "blockSize \(result.blockSize) without an acknowledged blksize")
    }
    if let value = acknowledged("windowsize", result) {
        let requested = expected.requested["windowsize"]!
        fuzzCheck(
            value >= 1 && value <= UInt64(windowMaximum) && value <= requested,
            "windowsize \(value) outside 1...min(\(windowMaximum), \(requested))")
        fuzzCheck(result.windowSize == Int(value), "windowSize \(result.windowSize) but OACK says \(value)")
    } else {
        fuzzCheck(result.windowSize == 1, "windowSize \(result.windowSize) without an acknowledged windowsize")
    }
    if let value = acknowledged("timeout", result) {
        fuzzCheck((1...255).contains(value), "timeout \(value) outside 1...255")
        fuzzCheck(value == expected.requested["timeout"], "timeout \(value) differs from the request")
        fuzzCheck(result.timeoutSeconds == Int(value), "timeoutSeconds \(String(describing: result.timeoutSeconds)) but OACK says \(value)")
    } else {
        fuzzCheck(result.timeoutSeconds == nil, "timeoutSeconds set without an acknowledged timeout")
    }
    if let value = acknowledged("tsize", result) {
        fuzzCheck(transferSize != nil, "tsize \(value) acknowledged although the size is unknown")
        fuzzCheck(
            value == transferSize && result.transferSize == transferSize,
            "tsize \(value) / \(String(describing: result.transferSize)), real size \(String(describing: transferSize))")
    } else {
        fuzzCheck(result.transferSize == nil, "transferSize set without an acknowledged tsize")
    }
    // An unknown size answers a numeric tsize request with a note instead.
    if transferSize == nil, expected.requested["tsize"] != nil {
        fuzzCheck(result.notes.contains { $0.contains("tsize") }, "tsize requested, size unknown, but no note says so: \(result.notes)")
    }
    fuzzCheck(
        result.sendsOptionAcknowledgement == !result.acknowledgedOptions.isEmpty, "sendsOptionAcknowledgement disagrees with the OACK")

    // Notes go to logs: printable ASCII on one line, whatever the client sent.
    for note in result.notes {
        fuzzCheck(note.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "log note with control or non-ASCII bytes: \(Array(note.utf8))")
    }

    // The OACK the server would send decodes back to the same list.
    if !result.acknowledgedOptions.isEmpty {
        let oack = TFTPPacketEncoder.optionAcknowledgement(result.acknowledgedOptions)
        let decoded = try? TFTPPacketDecoder.decode(oack)
        fuzzCheck(decoded == .optionAcknowledgement(result.acknowledgedOptions), "OACK \(oack) decodes to \(String(describing: decoded))")
    }
    return 0
}

/// A name: mostly a known option in random letter case, sometimes near-misses, sometimes raw bytes.
private func makeName(_ input: inout FuzzInput) -> String {
    let selector = input.byte()
    switch selector % 8 {
    case 0...4:
        let base = knownNames[Int(selector / 8) % knownNames.count]
        var mask = input.uint16()
        var bytes: [UInt8] = []
        for byte in base.utf8 {
            bytes.append(mask & 1 == 1 ? byte & ~0x20 : byte)
            mask >>= 1
        }
        return String(decoding: bytes, as: UTF8.self)
    case 5:
        // Known name with a suffix (e.g. "blksize2", "tsize\u{FFFD}").
        return knownNames[Int(selector / 8) % knownNames.count] + String(decoding: input.bytes(Int(input.byte() % 4)), as: UTF8.self)
    default:
        let raw = input.chunk().filter { $0 != 0 }
        return raw.isEmpty ? "x" : String(decoding: raw, as: UTF8.self)
    }
}

/// A value: small and boundary numbers, huge decimal strings, leading zeros, signs, or raw bytes.
private func makeValue(_ input: inout FuzzInput) -> String {
    let selector = input.byte()
    switch selector % 8 {
    case 0: return String(input.byte())
    case 1: return String(input.uint16())
    case 2: return String(input.uint64())
    case 3:
        let boundaries: [UInt64] = [
            0, 1, 7, 8, 9, 255, 256, 511, 512, 513, 1428, 1468, 32767, 32768, 65464, 65465, 65535, 65536,
            UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max,
        ]
        return String(boundaries[Int(input.byte()) % boundaries.count])
    case 4: return String(repeating: "0", count: Int(input.byte() % 40)) + String(input.uint16())
    case 5: return String(repeating: "9", count: Int(input.byte() % 50))
    case 6: return ["-1", "+8", " 8", "8 ", "1e3", "0x10", "", "\u{0661}\u{0662}"][Int(input.byte()) % 8]
    default: return String(decoding: input.chunk().filter { $0 != 0 }, as: UTF8.self)
    }
}

private struct Expectation {
    var acknowledged: [TFTPOption] = []
    /// The parsed value of the first occurrence of each known option that was a number.
    var requested: [String: UInt64] = [:]
}

/// RFC 2347/2348/2349/7440 as this server documents it, written without looking at the implementation's helpers.
private func model(_ options: [TFTPOption], limits: NegotiationLimits, transferSize: UInt64?, blockSizeCap: Int?) -> Expectation {
    var out = Expectation()
    var seen: Set<String> = []
    for option in options {
        let name = asciiLowercased(option.name)
        guard knownNames.contains(name), seen.insert(name).inserted else { continue }
        guard let number = parseDecimal(option.value) else { continue }
        out.requested[name] = number
        switch name {
        case "blksize":
            guard number >= 8 else { continue }
            var cap = UInt64(min(max(limits.maximumBlockSize, 8), 65464))
            if let blockSizeCap { cap = min(cap, UInt64(max(blockSizeCap, 8))) }
            out.acknowledged.append(TFTPOption(name: name, value: String(min(number, cap))))
        case "timeout":
            guard number >= 1, number <= 255 else { continue }
            out.acknowledged.append(TFTPOption(name: name, value: String(number)))
        case "tsize":
            guard let transferSize else { continue }
            out.acknowledged.append(TFTPOption(name: name, value: String(transferSize)))
        default:  // windowsize
            guard number >= 1 else { continue }
            let cap = UInt64(min(max(limits.maximumWindowSize, 1), NegotiationLimits.windowSizeRange.upperBound))
            out.acknowledged.append(TFTPOption(name: name, value: String(min(number, cap))))
        }
    }
    return out
}

private func acknowledged(_ name: String, _ result: NegotiatedTransfer) -> UInt64? {
    result.acknowledgedOptions.first { $0.name == name }.flatMap { parseDecimal($0.value) }
}

/// ASCII-only lowercase (option names are case-insensitive ASCII; Unicode case mapping must not apply).
private func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}

/// One or more ASCII digits; values past UInt64 saturate.
private func parseDecimal(_ s: String) -> UInt64? {
    let digits = Array(s.utf8)
    guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    let significant = digits.drop { $0 == 0x30 }
    if significant.count > 20 { return UInt64.max }
    return UInt64(String(decoding: significant.isEmpty ? [0x30] : Array(significant), as: UTF8.self)) ?? UInt64.max
}
