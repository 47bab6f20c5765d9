import VolleySystem

/// MAC addresses of clients on directly connected IPv4 networks, from the kernel's
/// neighbour table (a client that just sent its request has an entry: it resolved our
/// address, and the kernel noted its own). Known addresses are trusted for a second; an
/// unknown one re-reads the table at once, so a board's first request is never judged on
/// a stale copy. Used on the reactor thread only.
final class NeighbourCache {
    private var entries: [String: String] = [:]
    private var readAt: UInt64?
    private let read: () -> [String: String]

    init(read: @escaping () -> [String: String] = { NeighbourTable.ipv4Entries() }) {
        self.read = read
    }

    /// The MAC address of `ip` (IPv4 text, a v4-mapped client already unmapped by
    /// ``SocketAddress/unmappedIPString``), nil when the table has none (IPv6, routed clients).
    func mac(of ip: String, now: UInt64) -> MACAddress? {
        if let readAt, now &- readAt < 1000, let known = entries[ip] { return MACAddress(known) }
        entries = read()
        readAt = now
        return entries[ip].flatMap(MACAddress.init)
    }

    /// The MAC address of `ip` as the table was at most a second ago, for events: unlike
    /// ``mac(of:now:)`` an unknown address does not re-read the table, so a flood of
    /// requests from routed or IPv6 clients costs a lookup each, not a read each.
    func recentMAC(of ip: String, now: UInt64) -> String? {
        if readAt.map({ now &- $0 >= 1000 }) ?? true {
            entries = read()
            readAt = now
        }
        return entries[ip]
    }
}
