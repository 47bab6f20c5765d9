import VolleySystem

/// An IPv4 or IPv6 network in CIDR form (`10.1.0.0/16`, `fd00::/8`) or one address.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    /// Parses `10.1.0.0/16`, `127.0.0.2`, `fd00::/8` or `::1`; nil when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = SocketAddress(ip: String(parts[0]), port: 0) else { return nil }
        let bytes = address.addressBytes
        let length: Int
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...bytes.count * 8).contains(given) else { return nil }
            length = given
        } else {
            length = bytes.count * 8
        }
        network = bytes
        prefixLength = length
        description = text
    }

    /// Whether `address` lies in the range (a v4-mapped IPv6 client matches IPv4 ranges).
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == network.count else { return false }
        var remaining = prefixLength
        for index in network.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if address[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
