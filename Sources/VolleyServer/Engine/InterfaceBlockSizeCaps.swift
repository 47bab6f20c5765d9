import TFTPProtocol
import VolleySystem

/// The largest TFTP block that fits an interface's MTU unfragmented, cached per interface.
struct InterfaceBlockSizeCaps {
    private var cache: [UInt32: Int?] = [:]

    /// The blksize cap for `interfaceIndex` and address family, nil when unknown.
    mutating func cap(interfaceIndex: UInt32, isIPv6: Bool) -> Int? {
        guard interfaceIndex != 0 else { return nil }
        let mtu: Int?
        if let cached = cache[interfaceIndex] {
            mtu = cached
        } else {
            mtu = HostNetwork.mtu(ofInterface: interfaceIndex)
            cache[interfaceIndex] = mtu
        }
        guard let mtu else { return nil }
        // IP header (20 or 40), UDP header (8), TFTP DATA header (4).
        let cap = mtu - (isIPv6 ? 40 : 20) - 8 - 4
        let range = NegotiationLimits.blockSizeRange
        return min(max(cap, range.lowerBound), range.upperBound)
    }
}
