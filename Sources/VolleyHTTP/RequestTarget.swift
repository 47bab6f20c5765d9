/// The name a request target asks for: the path of an origin-form target (`/boot/vmlinuz?x`),
/// percent-decoded once, without its leading slash. Confinement is the resolver's: a `..`,
/// an absolute name or a symlink out is refused there whatever encoding brought it.
enum RequestTarget {
    /// Why a target names no file.
    enum Problem: Error, Equatable {
        /// Not an origin-form path (`*`, `http://…`), or a malformed percent escape.
        case malformed
        /// `/` itself, or a directory (ends with `/`): no listings.
        case directory
        /// A NUL byte: no file name has one.
        case nul
    }

    /// The decoded name of `target`.
    static func name(of target: String) -> Result<[UInt8], Problem> {
        var bytes = Array(target.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return .failure(.malformed) }
        if let query = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            bytes.removeSubrange(query...)
        }
        bytes.removeFirst()
        guard !bytes.isEmpty, bytes.last != UInt8(ascii: "/") else { return .failure(.directory) }
        var name: [UInt8] = []
        name.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return .failure(.malformed)
                }
                name.append(high << 4 | low)
                index += 3
            } else {
                name.append(byte)
                index += 1
            }
        }
        if name.contains(0) { return .failure(.nul) }
        if name.last == UInt8(ascii: "/") { return .failure(.directory) }
        return .success(name)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
