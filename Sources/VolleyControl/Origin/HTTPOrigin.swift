import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization
import VolleyServer
import VolleySystem

/// An image store that names missing from the root are fetched from (`origin:`): an
/// `http(s)://` base URL through AsyncHTTPClient, or a `file://` directory.
///
/// Fetched files are kept in `cache_dir`, written to a temporary file and renamed (a
/// half-fetched file is never served), revalidated with the origin's ETag or Last-Modified
/// after `origin_ttl_s`, and evicted least recently used first beyond `cache_max_bytes`.
/// Fetches run on Swift's task pool, never on the reactor thread.
public final class HTTPOrigin: TFTPOrigin {
    public let cacheDirectory: String
    private let base: String
    private let ttlMilliseconds: UInt64
    private let maximumCacheBytes: Int
    private let logger: Logger
    private let entries = Mutex<[String: Entry]>([:])

    /// What is known of a cached file.
    private struct Entry {
        var fetchedAt: UInt64
        var lastUsed: UInt64
        var etag: String?
        var lastModified: String?
    }

    /// - Parameters:
    ///   - base: the origin's base URL (`https://images.example/tftp/`, `file:///srv/images/`).
    ///   - cacheDirectory: where fetched files are kept; created when missing.
    public init(base: String, cacheDirectory: String, ttlSeconds: Int, maximumCacheBytes: Int, logger: Logger) throws(OriginError) {
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https", "file"].contains(scheme) else {
            throw OriginError("origin \(base.debugDescription) is not an http, https or file URL")
        }
        do {
            try FileSystem.makeDirectories(cacheDirectory)
        } catch {
            throw OriginError("cache_dir \(cacheDirectory): cannot create it: \(error.reason)")
        }
        self.base = base.hasSuffix("/") ? base : base + "/"
        self.cacheDirectory = cacheDirectory
        ttlMilliseconds = UInt64(max(0, ttlSeconds)) * 1000
        self.maximumCacheBytes = maximumCacheBytes
        self.logger = logger
    }

    public func cachedCopyIsFresh(_ name: String) -> Bool {
        let now = MonotonicClock.milliseconds()
        return entries.withLock { entries in
            guard let entry = entries[name], now &- entry.fetchedAt < ttlMilliseconds else { return false }
            entries[name]!.lastUsed = now
            return true
        }
    }

    public func refresh(_ name: String) async -> OriginOutcome {
        let store = RootDirectoryStore(rootDirectory: cacheDirectory)
        let cached = entries.withLock { $0[name] }
        let hasCopy = (try? store.fileInfo(name)) != nil
        let url =
            base
            + name.split(separator: "/").map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String($0) }.joined(
                separator: "/")
        var request = HTTPClientRequest(url: url)
        if hasCopy, let etag = cached?.etag { request.headers.add(name: "If-None-Match", value: etag) }
        if hasCopy, let modified = cached?.lastModified { request.headers.add(name: "If-Modified-Since", value: modified) }
        let outcome: OriginOutcome
        if url.hasPrefix("file:") {
            outcome = copyLocal(url, name: name, store: store)
        } else {
            outcome = await fetch(request, url: url, name: name, store: store)
        }
        if outcome == .ready { evict(keeping: name, store: store) }
        return outcome
    }

    private func fetch(_ request: HTTPClientRequest, url: String, name: String, store: RootDirectoryStore) async -> OriginOutcome {
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.failFast.execute(request, timeout: .seconds(30))
        } catch {
            logger.warning("origin: cannot fetch \(url): \(error)")
            return .failed("cannot fetch \(url): \(error)")
        }
        switch response.status.code {
        case 304:
            touch(name, etag: nil, lastModified: nil)
            logger.info("origin: \(name) not modified at \(url); the cached copy stays")
            return .ready
        case 200:
            break
        case 404, 410:
            return .notFound("\(url) answered \(response.status.code)")
        default:
            logger.warning("origin: \(url) answered \(response.status.code) \(response.status.reasonPhrase)")
            return .failed("\(url) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maximumCacheBytes {
            return .failed("\(url) is \(length) bytes, more than cache_max_bytes")
        }
        let meter = UploadMeter(base: ResponseChunks(body: response.body), limit: maximumCacheBytes, tally: .init())
        do {
            try await store.putFile(name, from: meter)
        } catch {
            logger.warning("origin: fetching \(url) failed, nothing cached: \(error)")
            return .failed("fetching \(url) failed: \(error)")
        }
        touch(name, etag: response.headers.first(name: "etag"), lastModified: response.headers.first(name: "last-modified"))
        logger.info("origin: fetched \(url) (\(meter.tally.bytes) bytes) into the cache")
        return .ready
    }

    private func copyLocal(_ url: String, name: String, store: RootDirectoryStore) -> OriginOutcome {
        guard let path = URL(string: url)?.path else { return .failed("\(url) is not a file URL") }
        do {
            try store.putFile(name, contentsOf: path)
        } catch .fileNotFound {
            return .notFound("\(path) does not exist")
        } catch {
            return .failed("copying \(path): \(error)")
        }
        touch(name, etag: nil, lastModified: nil)
        return .ready
    }

    /// Notes a fetch or revalidation now (validators kept when nil).
    private func touch(_ name: String, etag: String?, lastModified: String?) {
        let now = MonotonicClock.milliseconds()
        entries.withLock { entries in
            var entry = entries[name] ?? Entry(fetchedAt: now, lastUsed: now)
            entry.fetchedAt = now
            entry.lastUsed = now
            if let etag { entry.etag = etag }
            if let lastModified { entry.lastModified = lastModified }
            entries[name] = entry
        }
    }

    /// Deletes least recently used files until the cache fits `cache_max_bytes` (never `keeping`).
    private func evict(keeping: String, store: RootDirectoryStore) {
        guard let files = try? store.listFileInfos() else { return }
        var total = files.reduce(0) { $0 + Int($1.size) }
        guard total > maximumCacheBytes else { return }
        let used = entries.withLock { $0.mapValues(\.lastUsed) }
        for file in files.sorted(by: { (used[$0.path] ?? 0) < (used[$1.path] ?? 0) }) where file.path != keeping {
            guard total > maximumCacheBytes else { break }
            if (try? store.deleteFile(file.path)) != nil {
                total -= Int(file.size)
                _ = entries.withLock { $0.removeValue(forKey: file.path) }
                logger.info("origin: evicted \(file.path) (\(file.size) bytes) from the cache")
            }
        }
    }

}

/// Why an origin cannot be used, in one line.
public struct OriginError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
