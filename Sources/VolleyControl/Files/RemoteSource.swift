import AsyncHTTPClient
import Foundation
import NIOCore
import VolleySystem

/// Where `POST /v1/files/{path}` pulls a file from: an `http(s)://` URL through
/// AsyncHTTPClient, or a `file://` path on the server's machine.
enum RemoteSource {
    /// Why a fetch failed before or while streaming.
    enum Failure: Error {
        /// The URL is not http, https or file.
        case unsupported(String)
        /// The origin could not be reached or answered with an error.
        case origin(String)
        /// The origin announced more bytes than the limit.
        case tooLarge(Int)
    }

    /// The content at `url` as chunks, once the origin has answered.
    static func open(_ url: String, limit: Int) async throws(Failure) -> any AsyncSequence<[UInt8], any Error> & Sendable {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased() else {
            throw .unsupported("\"\(url)\" is not a URL")
        }
        switch scheme {
        case "http", "https":
            return try await openHTTP(url, limit: limit)
        case "file":
            return try openLocal(parsed.path)
        default:
            throw .unsupported("\(scheme):// URLs are not supported; use http, https or file")
        }
    }

    private static func openHTTP(_ url: String, limit: Int) async throws(Failure) -> any AsyncSequence<[UInt8], any Error> & Sendable {
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.failFast.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        } catch {
            throw .origin("cannot fetch \(url): \(error)")
        }
        guard response.status == .ok else {
            throw .origin("\(url) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            throw .tooLarge(length)
        }
        return ResponseChunks(body: response.body)
    }

    private static func openLocal(_ path: String) throws(Failure) -> any AsyncSequence<[UInt8], any Error> & Sendable {
        do {
            return FileReadChunks(adopting: try FileSystem.open(path))
        } catch {
            throw .origin("cannot open \(path) on the server")
        }
    }
}

/// An HTTP response body as byte arrays.
struct ResponseChunks: AsyncSequence, Sendable {
    let body: HTTPClientResponse.Body

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        mutating func next() async throws -> [UInt8]? {
            try await base.next().map { Array(buffer: $0) }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}
