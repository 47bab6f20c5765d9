/// A hardware address, read from the neighbour table and written the way PXELINUX names
/// its per-board files (`01-aa-bb-cc-dd-ee-ff`).
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    /// The six bytes.
    public let bytes: [UInt8]

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (any case).
    public init?(_ text: String) {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == ":" || $0 == "-" }
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// `aa:bb:cc:dd:ee:ff`.
    public var description: String { hex(separator: ":") }

    /// `01-aa-bb-cc-dd-ee-ff`: the ARP hardware type of Ethernet, then the address, as
    /// PXELINUX asks for `pxelinux.cfg/01-aa-bb-cc-dd-ee-ff`.
    public var pxelinuxName: String { "01-" + hex(separator: "-") }

    private func hex(separator: String) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: separator)
    }
}
