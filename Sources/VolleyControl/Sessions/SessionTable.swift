import Synchronization
import VolleySystem

/// The control plane's sessions: Jumpstarter's `remove_created_on_close` over HTTP.
///
/// A file a session created (uploaded with its id where nothing was) is removed when the
/// session is deleted or expires (no heartbeat within its time to live), and so are the
/// directories made for its files, when they are empty by then. A file that existed before
/// stays, even when the session replaced it; and only the file the session wrote is
/// removed: a path that someone else replaced since (another inode) is left alone.
final class SessionTable: Sendable {
    /// A file a session uploaded, with the identity it had after the upload.
    struct UploadedFile: Sendable, Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
    }

    /// One session as it stands.
    struct Session: Sendable {
        var id: String
        var ttlSeconds: Int
        var expiresAtMilliseconds: UInt64
        var files: [String: UploadedFile] = [:]
        /// Directories made for the session's files, root-relative.
        var directories: Set<String> = []

        var expiresInSeconds: Double {
            Double(Int64(bitPattern: expiresAtMilliseconds &- MonotonicClock.milliseconds())) / 1000
        }
    }

    private let sessions = Mutex<[String: Session]>([:])
    /// The time to live of a session created without one.
    let defaultTTLSeconds: Int

    init(defaultTTLSeconds: Int) {
        self.defaultTTLSeconds = max(1, defaultTTLSeconds)
    }

    /// Opens a session that lives `ttlSeconds` (the default when nil) unless renewed.
    func create(ttlSeconds: Int?) -> Session {
        let ttl = ttlSeconds ?? defaultTTLSeconds
        let session = Session(id: Self.newID(), ttlSeconds: ttl, expiresAtMilliseconds: Self.deadline(ttl))
        sessions.withLock { $0[session.id] = session }
        return session
    }

    /// The session `id`, nil when it does not exist (or expired).
    func session(_ id: String) -> Session? {
        sessions.withLock { $0[id] }
    }

    /// Extends `id` by its time to live from now.
    func renew(_ id: String) -> Session? {
        sessions.withLock { table in
            guard var session = table[id] else { return nil }
            session.expiresAtMilliseconds = Self.deadline(session.ttlSeconds)
            table[id] = session
            return session
        }
    }

    /// Notes that `id` uploaded `file`, which it `created` (nothing was there) or replaced,
    /// making `directories` on the way; a replaced file is the session's only if the session
    /// created it. False when the session does not exist.
    func record(_ file: UploadedFile, created: Bool, directories: [String], in id: String) -> Bool {
        sessions.withLock { table in
            guard table[id] != nil else { return false }
            if created || table[id]!.files[file.path] != nil { table[id]!.files[file.path] = file }
            table[id]!.directories.formUnion(directories)
            return true
        }
    }

    /// Forgets `path` in every session (it was deleted through the API).
    func forget(path: String) {
        sessions.withLock { table in
            for id in table.keys { table[id]!.files[path] = nil }
        }
    }

    /// Removes and returns `id`.
    func end(_ id: String) -> Session? {
        sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// Removes and returns the sessions whose time is up.
    func endExpired() -> [Session] {
        let now = MonotonicClock.milliseconds()
        return sessions.withLock { table in
            let expired = table.values.filter { $0.expiresAtMilliseconds <= now }
            for session in expired { table[session.id] = nil }
            return expired
        }
    }

    private static func deadline(_ ttlSeconds: Int) -> UInt64 {
        MonotonicClock.milliseconds() + UInt64(ttlSeconds) * 1000
    }

    /// 128 random bits as hex.
    private static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
