import ArgumentParser
import AsyncHTTPClient
import Foundation
import VolleySystem
import NIOCore
import NIOHTTP1

/// The options every control-plane command takes: where the server is and its token.
struct ControlConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The control plane: an http:// URL or a unix socket path (default: $VOLLEY_SERVER, else /run/volley/control.sock).",
            valueName: "url-or-path"))
    var server: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "File holding the bearer token (default: $VOLLEY_TOKEN_FILE).", valueName: "file"))
    var tokenFile: String?

    /// The connection these options describe.
    func connect() throws -> ControlConnection {
        let environment = ProcessInfo.processInfo.environment
        let server = server ?? environment["VOLLEY_SERVER"] ?? "/run/volley/control.sock"
        var token: String?
        if let path = tokenFile ?? environment["VOLLEY_TOKEN_FILE"] {
            guard let content = try? FileSystem.readSmallFile(path, limit: 64 << 10) else {
                throw ControlFailure(.usage, "cannot read the token file \(path)")
            }
            token = content.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ControlConnection(server: server, token: token)
    }
}

/// Requests to a running Volley's control plane, over TCP or its unix socket.
struct ControlConnection: Sendable {
    /// An `http(s)://` URL or a unix socket path.
    let server: String
    let token: String?

    /// Fails at once when nothing listens (the shared client would retry the connection
    /// until the request's deadline, hours for an upload).
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The URL of `path` (already percent-encoded) on the server.
    func url(_ path: String) -> String {
        if server.hasPrefix("http://") || server.hasPrefix("https://") {
            return (server.hasSuffix("/") ? String(server.dropLast()) : server) + path
        }
        return URL(httpURLWithSocketPath: server, uri: path)?.absoluteString ?? "http+unix://invalid\(path)"
    }

    /// The API path of a file, each component percent-encoded.
    static func filePath(_ name: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%;")
        let encoded = name.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? String($0) }
        return "/v1/files/" + encoded.joined(separator: "/")
    }

    /// A request with the token and any extra headers.
    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = []) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url(path))
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return request
    }

    /// Sends `request`; a server that cannot be reached becomes ``ControlFailure`` `.cannotConnect`.
    func send(_ request: HTTPClientRequest, timeout: TimeAmount = .hours(24)) async throws -> HTTPClientResponse {
        do {
            return try await Self.client.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .connectTimeout || error == .remoteConnectionClosed {
            throw ControlFailure(.cannotConnect, "cannot reach the control plane at \(server): \(error)")
        } catch let error as HTTPClientError {
            throw ControlFailure(.failed, "request to \(server) failed: \(error)")
        } catch {
            throw ControlFailure(.cannotConnect, "cannot reach the control plane at \(server): \(error)")
        }
    }

    /// The body of `response` as bytes (at most `limit`).
    static func body(of response: HTTPClientResponse, limit: Int = 64 << 20) async throws -> [UInt8] {
        Array(buffer: try await response.body.collect(upTo: limit))
    }

    /// Throws the failure an error answer stands for, with the server's message.
    static func check(_ response: HTTPClientResponse, subject: String) async throws {
        guard response.status.code >= 300 else { return }
        let bytes = (try? await body(of: response, limit: 1 << 20)) ?? []
        var message = "\(response.status.code) \(response.status.reasonPhrase)"
        if let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], let text = object["message"] as? String {
            message = text
        }
        let kind: ControlFailure.Kind =
            switch response.status.code {
            case 404: .notFound
            case 401, 403, 409, 413, 415, 422, 507: .refused
            default: .failed
            }
        throw ControlFailure(kind, "\(subject): \(message)")
    }
}

/// A failed control-plane command: one line on standard error and a status that tells
/// scripts what happened.
struct ControlFailure: Error, CustomStringConvertible {
    enum Kind: Int32 {
        /// Anything else (a server error, a bad answer).
        case failed = 1
        /// The file (or session) does not exist: exit status 2.
        case notFound = 2
        /// The server refused: no or wrong token, outside the root, too large, checksum
        /// mismatch, disk full, wrong state: exit status 3.
        case refused = 3
        /// Nothing answered at the address: exit status 4.
        case cannotConnect = 4
        /// A local problem with the command (an unreadable file): exit status 64.
        case usage = 64
    }

    let kind: Kind
    let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
