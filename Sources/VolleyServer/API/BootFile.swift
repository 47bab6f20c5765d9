import VolleySystem

/// A boot file opened for a protocol other than TFTP (HTTP), by ``BootFiles``: confined
/// beneath its root, after the rules, and with the identity it had at open.
///
/// The descriptor stays open while the value lives. A sender that must never deliver a
/// mixed body checks ``hasChanged()`` before its last byte, as TFTP does before its last block.
public final class BootFile: Sendable {
    private let file: OpenFile
    /// The rule of `rules:` that matched, nil when none did.
    public let rule: String?
    /// The name looked up under the root, after the rule's rewrite.
    public let servedName: String

    init(_ file: OpenFile, resolved: ResolvedName) {
        self.file = file
        self.rule = resolved.rule
        self.servedName = resolved.servedName
    }

    /// Its size in bytes, at open.
    public var size: UInt64 { file.size }

    /// Its modification time at open, in seconds since the epoch.
    public var modifiedEpochSeconds: Int64 { file.status.modificationNanoseconds / 1_000_000_000 }

    /// A strong entity tag from the file's identity at open (device, inode, size, modification
    /// time in nanoseconds): any change of content changes it.
    public var entityTag: String {
        let status = file.status
        return
            "\"\(String(status.device, radix: 16))-\(String(status.inode, radix: 16))-\(String(status.size, radix: 16))-\(String(status.modificationNanoseconds, radix: 16))\""
    }

    /// The open descriptor, for `sendfile` (owned by this value: never close it).
    public var descriptor: Int32 { file.descriptor.rawValue }

    /// Reads `count` bytes at `offset` (a small file's body, sent from memory); nil on a read
    /// error or a short read (the file shrank).
    public func read(offset: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                try? FileSystem.read(
                    file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + UInt64(done))
            }
            guard let got, got > 0 else { return nil }
            done += got
        }
        return bytes
    }

    /// Whether the file was written, truncated or replaced in place since it was opened
    /// (an error reading its status counts as changed).
    public func hasChanged() -> Bool {
        (try? file.hasChanged()) ?? true
    }
}

/// Why ``BootFiles`` gives no file for a name.
public struct BootFileRefusal: Error, Sendable {
    /// What kind of refusal: the HTTP server picks its status from it.
    public enum Kind: Sendable {
        case notFound, accessDenied, notARegularFile, invalidName, busy, failed
    }

    public let kind: Kind
    /// For the log, never for the client.
    public let detail: String
}
