import Glibc

/// How ``FileSystem`` opens a file for reading: the `O_*` flags Volley uses, as a typed set in
/// the manner of swift-system's `FileDescriptor.OpenOptions`. The empty set is a plain
/// read-only open; `O_CLOEXEC` is always added. (Writing goes only through
/// ``FileSystem/createExclusive(in:name:mode:)``.)
public struct OpenOptions: OptionSet, Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Fails unless the path is a directory (`O_DIRECTORY`).
    public static let directory = OpenOptions(rawValue: O_DIRECTORY)
    /// Opens and reads without blocking (`O_NONBLOCK`): a FIFO cannot stall the caller.
    public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
    /// A terminal never becomes the process's controlling terminal (`O_NOCTTY`).
    public static let noControllingTerminal = OpenOptions(rawValue: O_NOCTTY)
    /// A handle on the path only, for the `*at` calls and `fstat` (`O_PATH`; glibc defines it
    /// only under `_GNU_SOURCE`, which the shim leaves undefined).
    public static let pathOnly = OpenOptions(rawValue: 0o10000000)

    /// The flags for open(2): read-only, close-on-exec, and these options.
    var flags: Int32 { O_RDONLY | O_CLOEXEC | rawValue }
}
