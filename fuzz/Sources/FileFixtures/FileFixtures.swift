// Scratch directory trees for the file-name fuzzers: built once per process under /tmp, compared by snapshot,
// removed at exit. Names are bytes throughout (a fixture holds a file whose name is not UTF-8).
import Glibc

/// What one entry of a fixture tree is.
///
/// A struct, not an enum with payloads: Swift keeps a multi-payload enum's case in the spare bits of the payload's
/// pointer, which LeakSanitizer then no longer recognises, so a global fixture would be reported as leaked at exit.
public struct FixtureNode: Equatable, Sendable {
    public enum Kind: Equatable, Sendable { case file, directory, symlink, fifo }
    public let kind: Kind
    /// A file's content or a symlink's target (bytes, absolute or relative).
    public let bytes: [UInt8]
    /// A file's mode.
    public let mode: mode_t

    /// A regular file with this content and mode.
    public static func file(content: [UInt8], mode: mode_t) -> FixtureNode { FixtureNode(kind: .file, bytes: content, mode: mode) }
    public static let directory = FixtureNode(kind: .directory, bytes: [], mode: 0o755)
    /// A symbolic link with this target.
    public static func symlink(target: [UInt8]) -> FixtureNode { FixtureNode(kind: .symlink, bytes: target, mode: 0o777) }
    public static let fifo = FixtureNode(kind: .fifo, bytes: [], mode: 0o644)
}

/// One entry of a fixture: its path relative to the tree's top (components joined by `/`) and what it is.
public struct FixtureEntry: Sendable {
    public let path: [UInt8]
    public let node: FixtureNode
    public init(_ path: String, _ node: FixtureNode) { self.init(bytes: Array(path.utf8), node) }
    public init(bytes path: [UInt8], _ node: FixtureNode) {
        self.path = path
        self.node = node
    }
}

/// The identity of a file: device and inode.
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64
    public init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
    public var description: String { "dev \(device) ino \(inode)" }
}

/// What a snapshot records of one directory entry.
public struct EntryState: Hashable, Sendable {
    public let identity: FileIdentity
    public let type: mode_t
    public let size: Int64
    public let modification: Int64
    public let change: Int64
}

/// Fails the run with a message (setup errors are not findings but must not go unnoticed).
public func fixtureFailure(_ message: String) -> Never {
    fatalError("fixture: \(message) (errno \(errno): \(String(cString: strerror(errno))))")
}

/// A fresh directory `<parent>/volley-fuzz-<label>-<pid>`, removed at normal exit; `$FUZZ_SCRATCH`, when set,
/// replaces `parent`. Leftovers of crashed runs (whose process is gone) are removed first.
public func makeScratchDirectory(label: String, in preferredParent: String = "/tmp") -> String {
    let parent = getenv("FUZZ_SCRATCH").map { String(cString: $0) } ?? preferredParent
    let prefix = "volley-fuzz-\(label)-"
    if let directory = opendir(parent) {
        var stale: [String] = []
        while let entry = readdir(directory) {
            let name = String(decoding: entryName(entry), as: UTF8.self)
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            stale.append(parent + "/" + name)
        }
        closedir(directory)
        stale.forEach(removeTree)
    }
    let path = "\(parent)/\(prefix)\(getpid())"
    removeTree(path)
    guard mkdir(path, 0o755) == 0 else { fixtureFailure("mkdir \(path)") }
    scratchDirectories.append(path)
    if scratchDirectories.count == 1 {
        atexit { scratchDirectories.forEach(removeTree) }
    }
    return path
}

nonisolated(unsafe) private var scratchDirectories: [String] = []

/// Creates `entries` below `top` (an existing directory), in order (parents first).
public func buildTree(at top: String, _ entries: [FixtureEntry]) {
    let previousMask = umask(0)
    defer { umask(previousMask) }
    for entry in entries {
        let path = Array(top.utf8) + [UInt8(ascii: "/")] + entry.path
        let ok: Bool = withCString(path) { cPath in
            let node = entry.node
            switch node.kind {
            case .directory:
                return mkdir(cPath, node.mode) == 0
            case .fifo:
                return mkfifo(cPath, node.mode) == 0
            case .symlink:
                return withCString(node.bytes) { symlink($0, cPath) == 0 }
            case .file:
                let content = node.bytes
                let fd = open(cPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, node.mode)
                guard fd >= 0 else { return false }
                defer { close(fd) }
                let written = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                return written == content.count
            }
        }
        if !ok { fixtureFailure("creating \(String(decoding: path, as: UTF8.self))") }
    }
}

/// Removes `path` and everything below it, never following symlinks; a missing path is fine.
public func removeTree(_ path: String) {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    if status.st_mode & S_IFMT == S_IFDIR {
        emptyDirectory(path)
        if rmdir(path) != 0 { fixtureFailure("rmdir \(path)") }
    } else if unlink(path) != 0 {
        fixtureFailure("unlink \(path)")
    }
}

/// Removes everything inside the directory `path`, keeping the directory itself (and its inode). Works below the
/// directory by descriptor, so trees deeper than PATH_MAX go too.
public func emptyDirectory(_ path: String) {
    let directory = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard directory >= 0 else { fixtureFailure("open \(path)") }
    defer { close(directory) }
    emptyDirectory(at: directory, path)
}

private func emptyDirectory(at directory: Int32, _ shownPath: String) {
    for name in directoryNames(at: directory) {
        let isDirectory = withCString(name) { cName -> Bool in
            var status = stat()
            return fstatat(directory, cName, &status, AT_SYMLINK_NOFOLLOW) == 0 && status.st_mode & S_IFMT == S_IFDIR
        }
        if isDirectory {
            let child = withCString(name) { openat(directory, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { fixtureFailure("openat in \(shownPath)") }
            emptyDirectory(at: child, shownPath)
            close(child)
        }
        guard withCString(name, { unlinkat(directory, $0, isDirectory ? AT_REMOVEDIR : 0) }) == 0 else {
            fixtureFailure("unlinkat \(describe(name)) in \(shownPath)")
        }
    }
}

/// The names in the directory open as `directory` (not consumed), without `.` and `..`, sorted bytewise.
private func directoryNames(at directory: Int32) -> [[UInt8]] {
    let copy = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard copy >= 0, let stream = fdopendir(copy) else { fixtureFailure("fdopendir") }
    defer { closedir(stream) }
    var names: [[UInt8]] = []
    while let entry = readdir(stream) {
        let name = entryName(entry)
        if name == [0x2E] || name == [0x2E, 0x2E] { continue }
        names.append(name)
    }
    return names.sorted { $0.lexicographicallyPrecedes($1) }
}

/// The name of a `readdir` entry. Read in place up to its NUL: the kernel's record is only as long as the name, so
/// copying the whole `d_name` array reads past the end of the buffer.
private func entryName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    let name = UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \.d_name)!).assumingMemoryBound(to: CChar.self)
    return Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
}

/// Every entry below `top` (not following symlinks), keyed by its path relative to `top`. Walks by descriptor, so
/// entries deeper than PATH_MAX are seen too.
public func snapshotTree(_ top: String) -> [[UInt8]: EntryState] {
    var result: [[UInt8]: EntryState] = [:]
    walkTree(top, from: [UInt8]()) { relative, name, status in
        let child = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
        result[child] = EntryState(status)
        return child
    }
    return result
}

/// Calls `visit` with the name and status of every entry below `top` (not following symlinks). Unlike
/// ``snapshotTree(_:)`` it builds no paths, so it stays linear in the entries for trees thousands of directories deep
/// (a put of a 2,000-component name leaves one behind).
public func forEachEntry(below top: String, _ visit: (_ name: [UInt8], _ status: stat) -> Void) {
    walkTree(top, from: ()) { _, name, status in visit(name, status) }
}

/// Walks every entry below `top` by descriptor, not following symlinks. `visit` gets the context of the entry's
/// directory (`context` at the top), its name and status, and returns the context its own entries get if it is a
/// directory.
private func walkTree<Context>(_ top: String, from context: Context, _ visit: (Context, [UInt8], stat) -> Context) {
    func walk(_ directory: Int32, _ context: Context) {
        for name in directoryNames(at: directory) {
            var status = stat()
            guard withCString(name, { fstatat(directory, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
            let inner = visit(context, name, status)
            if status.st_mode & S_IFMT == S_IFDIR {
                let descriptor = withCString(name) { openat(directory, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                guard descriptor >= 0 else { fixtureFailure("openat \(describe(name)) below \(top)") }
                walk(descriptor, inner)
                close(descriptor)
            }
        }
    }
    let descriptor = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard descriptor >= 0 else { fixtureFailure("open \(top)") }
    walk(descriptor, context)
    close(descriptor)
}

/// The state of every entry below `top`, without paths: equal for two trees exactly when no entry was added,
/// removed or changed (an entry's identity is in its state; moving one changes its own and its parents' times).
public func entryStates(below top: String) -> Set<EntryState> {
    var states = Set<EntryState>()
    forEachEntry(below: top) { _, status in states.insert(EntryState(status)) }
    return states
}

/// The entries directly in `directory`, keyed by name; `skippingTimesOf` names entries whose times may change (a
/// directory whose content is expected to change, such as a store's root).
public func snapshotDirectory(_ directory: String, skippingTimesOf skipped: Set<[UInt8]> = []) -> [[UInt8]: EntryState] {
    var result: [[UInt8]: EntryState] = [:]
    let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard descriptor >= 0 else { fixtureFailure("open \(directory)") }
    defer { close(descriptor) }
    for name in directoryNames(at: descriptor) {
        var status = stat()
        guard withCString(name, { fstatat(descriptor, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
        let state = EntryState(status)
        result[name] = skipped.contains(name) ? state.withoutTimes : state
    }
    return result
}

extension EntryState {
    public init(_ status: stat) {
        identity = FileIdentity(status)
        type = status.st_mode & S_IFMT
        size = Int64(status.st_size)
        modification = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        change = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
    }

    var withoutTimes: EntryState {
        EntryState(identity: identity, type: type, size: 0, modification: 0, change: 0)
    }
}

/// `/dev/shm` when it is a writable directory (tmpfs on Linux: fsync costs nothing there), else `/tmp`.
public var memoryBackedTemporaryDirectory: String {
    access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp"
}

/// The lowest free descriptor number: a descriptor leaked since the last call moves it up.
public func lowestFree() -> Int32 {
    let probe = dup(0)
    if probe >= 0 { close(probe) }
    return probe
}

/// Runs `body` with `bytes` as a NUL-terminated C string (the bytes must not contain NUL).
public func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

/// Text for messages: the bytes as a Swift string literal (invalid UTF-8 shown as U+FFFD), cut after `limit` bytes.
public func describe(_ bytes: [UInt8], limit: Int = 300) -> String {
    let shown = String(decoding: bytes.prefix(limit), as: UTF8.self).debugDescription
    return bytes.count > limit ? "\(shown)… (\(bytes.count) bytes)" : shown
}
