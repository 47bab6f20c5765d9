/// A file descriptor borrowed from its owner: the typed number every call of VolleySystem
/// takes, in the manner of swift-system's `FileDescriptor`.
///
/// Borrowing never closes: a ``Descriptor`` is valid while its owner lives (an
/// ``OwnedDescriptor``, a ``DatagramSocket``, the one record of a table that owns it, or
/// whoever passed it in, such as systemd). A trivial wrapper of the number, with no cost
/// over a raw `CInt` on the per-packet paths.
///
/// Why not `SystemPackage.FileDescriptor` itself: it is not `Sendable` (swift-system leaves
/// that open, apple/swift-system#112, and may yet mark it unavailable), while descriptors
/// travel in `Sendable` values (``OwnedDescriptor``, ``Systemd/ListenSocket``, a server's
/// configuration of inherited sockets); a retroactive conformance would break the day
/// swift-system decides. It also carries `close()`, `read` and `write`, which would let a
/// borrower close its owner's descriptor or call the kernel past VolleySystem's rules
/// (retry on `EINTR`, trap on `EBADF`).
public struct Descriptor: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The descriptor number, for the C calls inside VolleySystem and in tests.
    public let rawValue: CInt

    /// The descriptor numbered `rawValue` (not checked: the caller knows it is open).
    @inlinable
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// Standard input (0).
    public static let standardInput = Descriptor(rawValue: 0)
    /// Standard output (1).
    public static let standardOutput = Descriptor(rawValue: 1)
    /// Standard error (2).
    public static let standardError = Descriptor(rawValue: 2)

    /// The number, as in log lines.
    public var description: String { "\(rawValue)" }
}
