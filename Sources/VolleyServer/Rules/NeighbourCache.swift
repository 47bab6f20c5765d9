import VolleySystem

/// MAC addresses of clients on directly connected IPv4 networks, from the kernel's
/// neighbour table, re-read at most once a second (a client that just sent its request has
/// an entry: the kernel resolved it to answer). Used on the reactor thread only.
final class NeighbourCache {
    private var entries: [String: String] = [:]
    private var readAt: UInt64?
    private let read: () -> [String: String]

    init(read: @escaping () -> [String: String] = { NeighbourTable.ipv4Entries() }) {
        self.read = read
    }

    /// The MAC address of `ip`, nil when the table has none (IPv6, routed clients).
    func mac(of ip: String, now: UInt64) -> MACAddress? {
        let unmapped = ip.hasPrefix("::ffff:") ? String(ip.dropFirst("::ffff:".count)) : ip
        if let known = entries[unmapped] { return MACAddress(known) }
        if let readAt, now &- readAt < 1000 { return nil }
        entries = read()
        readAt = now
        return entries[unmapped].flatMap(MACAddress.init)
    }
}
