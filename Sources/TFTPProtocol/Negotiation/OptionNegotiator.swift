/// Answers a request's options (RFC 2347 blksize/timeout/tsize, RFC 2348, RFC 2349, RFC 7440 windowsize).
public enum OptionNegotiator {
    /// Decides the transfer parameters and the OACK contents for `options`.
    /// blockSizeCap: an extra per-request cap (e.g. from the interface MTU), nil = none; transferSize: bytes the client will receive on the wire (netascii: converted size), nil when not known up front (then tsize is not acknowledged).
    public static func negotiate(
        _ options: [TFTPOption],
        limits: NegotiationLimits,
        transferSize: UInt64?,
        blockSizeCap: Int?
    ) -> NegotiatedTransfer {
        var result = NegotiatedTransfer()
        var seen: Set<String> = []
        for option in options {
            let name = ASCII.lowercased(option.name)
            let value = ASCII.loggable(option.value)
            guard let known = KnownOption(rawValue: name) else {
                result.notes.append("ignored unknown option \(ASCII.loggable(option.name))")
                continue
            }
            // First occurrence wins even if it was rejected: a client cannot retry a value within one request.
            guard seen.insert(name).inserted else {
                result.notes.append("ignored repeated option \(name)")
                continue
            }
            guard let number = DecimalParser.parse(option.value) else {
                result.notes.append("ignored \(name) \(value) (not a number)")
                continue
            }
            switch known {
            case .blockSize:
                guard number >= UInt64(NegotiationLimits.blockSizeRange.lowerBound) else {
                    result.notes.append("ignored blksize \(value) (must be at least 8)")
                    continue
                }
                let (cap, reason) = blockSizeLimit(limits, blockSizeCap)
                var granted = cap
                if number > UInt64(cap) {
                    result.notes.append("blksize \(value) lowered to \(cap) (\(reason))")
                } else {
                    granted = Int(number)
                }
                result.blockSize = granted
                result.acknowledgedOptions.append(TFTPOption(name: name, value: String(granted)))
            case .timeout:
                guard (1...255).contains(number) else {
                    result.notes.append("ignored timeout \(value) (must be 1-255)")
                    continue
                }
                result.timeoutSeconds = Int(number)
                result.acknowledgedOptions.append(TFTPOption(name: name, value: String(number)))
            case .transferSize:
                guard let transferSize else {
                    result.notes.append("tsize not offered: the converted netascii size of a large file is not known before sending")
                    continue
                }
                // Clients send 0 on a read; whatever they send, the answer is the real size.
                result.transferSize = transferSize
                result.acknowledgedOptions.append(TFTPOption(name: name, value: String(transferSize)))
            case .windowSize:
                guard number >= 1 else {
                    result.notes.append("ignored windowsize \(value) (must be at least 1)")
                    continue
                }
                let (cap, reason) = windowSizeLimit(limits)
                var granted = cap
                if number > UInt64(cap) {
                    result.notes.append("windowsize \(value) lowered to \(cap) (\(reason))")
                } else {
                    granted = Int(number)
                }
                result.windowSize = granted
                result.acknowledgedOptions.append(TFTPOption(name: name, value: String(granted)))
            }
        }
        return result
    }

    /// The largest block size this request may get, and which limit set it.
    private static func blockSizeLimit(_ limits: NegotiationLimits, _ blockSizeCap: Int?) -> (Int, String) {
        let range = NegotiationLimits.blockSizeRange
        // Limits are public vars and may be set after init: clamp again.
        let serverMaximum = min(max(limits.maximumBlockSize, range.lowerBound), range.upperBound)
        if let blockSizeCap, blockSizeCap < serverMaximum {
            return (max(blockSizeCap, range.lowerBound), "interface MTU")
        }
        return (serverMaximum, "server maximum")
    }

    /// The largest window this request may get, and which limit set it.
    private static func windowSizeLimit(_ limits: NegotiationLimits) -> (Int, String) {
        let range = NegotiationLimits.windowSizeRange
        // Limits are public vars and may be set after init: clamp again.
        if limits.maximumWindowSize > range.upperBound {
            return (range.upperBound, "protocol maximum")
        }
        return (max(limits.maximumWindowSize, range.lowerBound), "server maximum")
    }

    private enum KnownOption: String {
        case blockSize = "blksize"
        case timeout
        case transferSize = "tsize"
        case windowSize = "windowsize"
    }
}
