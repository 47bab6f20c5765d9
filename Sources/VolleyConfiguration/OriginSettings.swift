/// The settings of the remote origin (`origin`, `cache_dir`, `origin_ttl_s`, `cache_max_bytes`).
public struct OriginSettings: Sendable, Equatable {
    /// Base URL names missing from the root are fetched from; empty: none.
    public var url = ""
    /// Where fetched files are kept.
    public var cacheDirectory = "/var/cache/volley"
    /// Seconds a fetched file is served before it is revalidated with the origin.
    public var ttlSeconds = 60
    /// The most the cache may hold; least recently used files go first.
    public var maximumCacheBytes = 10 << 30

    public init() {}
}
