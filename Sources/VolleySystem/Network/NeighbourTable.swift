import Glibc

/// The kernel's IPv4 neighbour (ARP) table, as `/proc/net/arp` shows it.
public enum NeighbourTable {
    /// The complete entries: IPv4 address text → hardware address text (`aa:bb:cc:dd:ee:ff`).
    /// Empty when the table cannot be read.
    public static func ipv4Entries(path: String = "/proc/net/arp") -> [String: String] {
        guard let text = try? FileSystem.readSmallFile(path) else { return [:] }
        return parse(text)
    }

    /// Parses the table's text: `IP address  HW type  Flags  HW address  Mask  Device` lines;
    /// incomplete entries (flags 0x0, address all zero) are left out.
    public static func parse(_ text: String) -> [String: String] {
        var entries: [String: String] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, fields[2] != "0x0", fields[3] != "00:00:00:00:00:00" else { continue }
            entries[String(fields[0])] = String(fields[3]).lowercased()
        }
        return entries
    }
}
