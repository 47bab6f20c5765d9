/// Where a name missing from the root is fetched from (`origin:`), into a cache directory.
///
/// The server asks ``cachedCopyIsFresh(_:)`` on the reactor thread (it must not block) and,
/// when the copy is missing or stale, calls ``refresh(_:)`` off the reactor; many clients
/// asking for the same name at once cause one refresh.
public protocol TFTPOrigin: Sendable {
    /// The directory the fetched files are kept in, confined like the root.
    var cacheDirectory: String { get }
    /// Whether the cache holds `name` and it was fetched or revalidated recently enough to
    /// serve without asking the origin. Also notes the use (least-recently-used eviction).
    func cachedCopyIsFresh(_ name: String) -> Bool
    /// Fetches `name`, or revalidates the cached copy, so that the cache holds the origin's
    /// current bytes; a half-fetched file is never left where it could be served.
    func refresh(_ name: String) async -> OriginOutcome
}

/// How a ``TFTPOrigin/refresh(_:)`` ended.
public enum OriginOutcome: Sendable, Equatable {
    /// The cache holds the current file.
    case ready
    /// The origin does not have it (HTTP 404, a missing file): TFTP error 1.
    case notFound(String)
    /// The origin could not be reached or failed: TFTP error 0, logged.
    case failed(String)
}
