import TFTPProtocol

/// Checks an OACK against what was requested (RFC 2347/2348/2349/7440) and yields the values to use.
struct OptionAcknowledgementCheck {
    /// What the client will use for the rest of the transfer.
    struct Accepted: Equatable {
        var blockSize: Int
        var windowSize: Int
    }

    let requestedBlockSize: Int
    let requestedWindowSize: Int
    let requestedTransferSize: Bool
    let fileSize: Int

    /// The values to use, or nil when the OACK must be refused: an option not asked for, a block size
    /// above the request or outside 8–65464, a window size above the request or below 1, a tsize other
    /// than the file size (or missing when asked for), a repeated option, or a malformed packet.
    func check(_ datagram: UnsafeRawBufferPointer) -> Accepted? {
        guard case .optionAcknowledgement(let options)? = try? TFTPPacketDecoder.decode(datagram) else { return nil }
        return check(options)
    }

    /// See ``check(_:)-(UnsafeRawBufferPointer)``.
    func check(_ options: [TFTPOption]) -> Accepted? {
        var accepted = Accepted(blockSize: 512, windowSize: 1)
        var seen: Set<String> = []
        var sawTransferSize = false
        for option in options {
            let name = option.name.lowercased()
            guard seen.insert(name).inserted, let value = Int(option.value) else { return nil }
            switch name {
            case "blksize":
                guard value >= 8, value <= 65464, value <= requestedBlockSize else { return nil }
                accepted.blockSize = value
            case "windowsize" where requestedWindowSize > 1:
                guard value >= 1, value <= requestedWindowSize else { return nil }
                accepted.windowSize = value
            case "tsize" where requestedTransferSize:
                guard value == fileSize else { return nil }
                sawTransferSize = true
            default:
                return nil
            }
        }
        if requestedTransferSize && !sawTransferSize { return nil }
        return accepted
    }
}
