import Foundation
import OpenAPIRuntime
import VolleyServer
import VolleySystem

extension ControlAPI {
    func listFiles(_ input: Operations.ListFiles.Input) async throws -> Operations.ListFiles.Output {
        do {
            let entries = try store.listFileInfos().map { info in
                Components.Schemas.FileEntry(
                    path: info.path, size: Int64(clamping: info.size),
                    modified: Date(timeIntervalSince1970: Double(info.modificationNanoseconds) / 1e9))
            }
            return .ok(.init(body: .json(entries)))
        } catch {
            return .default(statusCode: APIError(error).status, .init(body: .json(APIError(error).body)))
        }
    }

    func getFile(_ input: Operations.GetFile.Input) async throws -> Operations.GetFile.Output {
        do {
            let reader = try store.openFile(input.path.path)
            return .ok(.init(body: .binary(FileChunks(reader: reader).body)))
        } catch {
            return .default(statusCode: APIError(error).status, .init(body: .json(APIError(error).body)))
        }
    }

    func headFile(_ input: Operations.HeadFile.Input) async throws -> Operations.HeadFile.Output {
        do {
            let reader = try store.openFile(input.path.path)
            let digest = try digests.digest(of: reader)
            let modified = WallClock.httpDate(epochSeconds: reader.info.modificationNanoseconds / 1_000_000_000)
            return .ok(
                .init(
                    headers: .init(
                        xChecksumSHA256: digest, xFileSize: Int64(clamping: reader.info.size), lastModified: modified)))
        } catch .fileNotFound {
            return .notFound(.init())
        } catch .accessViolation {
            return .forbidden(.init())
        } catch {
            return .default(statusCode: APIError(error).status, .init())
        }
    }

    func deleteFile(_ input: Operations.DeleteFile.Input) async throws -> Operations.DeleteFile.Output {
        let name = input.path.path
        do {
            try server.deleteFile(name)
        } catch {
            return .default(statusCode: APIError(error).status, .init(body: .json(APIError(error).body)))
        }
        sessions.forget(path: name)
        logger.info("control plane: deleted \(name)")
        return .noContent(.init())
    }

    func putFile(_ input: Operations.PutFile.Input) async throws -> Operations.PutFile.Output {
        guard case .any(let body) = input.body else { return Self.failed(APIError(status: 400, name: "BadRequest", message: "no body")) }
        if case .known(let length) = body.length, length > maximumUploadBytes {
            return Self.failed(APIError.tooLarge(maximumUploadBytes))
        }
        let chunks = BodyChunks(body: body)
        switch await store(input.path.path, from: chunks, sha256: input.headers.xChecksumSHA256, session: input.headers.xVolleySession) {
        case .success(let (result, created)): return created ? .created(.init(body: .json(result))) : .ok(.init(body: .json(result)))
        case .failure(let error): return Self.failed(error)
        }
    }

    func fetchFile(_ input: Operations.FetchFile.Input) async throws -> Operations.FetchFile.Output {
        guard case .json(let request) = input.body else {
            return .default(
                statusCode: 415, .init(body: .json(.init(error: "UnsupportedMediaType", message: "send {\"url\": …} as application/json"))))
        }
        if !allowFileURLs, request.url.lowercased().hasPrefix("file:") {
            let refusal = APIError(
                status: 403, name: "FileURLsOff",
                message: "file:// URLs are off: they would copy any file volley can read into the root (control_allow_file_urls)")
            return .default(statusCode: refusal.status, .init(body: .json(refusal.body)))
        }
        let chunks: any AsyncSequence<[UInt8], any Error> & Sendable
        do {
            chunks = try await RemoteSource.open(request.url, limit: maximumUploadBytes)
        } catch {
            let failure: APIError =
                switch error {
                case .unsupported(let message): APIError(status: 400, name: "UnsupportedURL", message: message)
                case .origin(let message): APIError(status: 502, name: "FetchFailed", message: message)
                case .tooLarge: APIError.tooLarge(maximumUploadBytes)
                }
            logger.warning("control plane: fetch of \(request.url) for \(input.path.path) failed: \(failure.message)")
            return .default(statusCode: failure.status, .init(body: .json(failure.body)))
        }
        switch await store(input.path.path, from: chunks, sha256: request.sha256, session: input.headers.xVolleySession) {
        case .success(let (result, created)):
            logger.info("control plane: fetched \(request.url) as \(result.path) (\(result.size) bytes)")
            return created ? .created(.init(body: .json(result))) : .ok(.init(body: .json(result)))
        case .failure(let error):
            return .default(statusCode: error.status, .init(body: .json(error.body)))
        }
    }

    /// Streams `chunks` into the root as `name` (temporary file, fsync, rename), within the
    /// size limit, checked against `sha256` when given, and notes it in `session`.
    private func store(
        _ name: String, from chunks: some AsyncSequence<[UInt8], any Error> & Sendable, sha256: String?, session: String?
    ) async -> Result<(Components.Schemas.PutResult, created: Bool), APIError> {
        if let session, sessions.session(session) == nil { return .failure(.unknownSession(session)) }
        let meter = UploadMeter(base: chunks, limit: maximumUploadBytes, tally: .init())
        let result: PutFileResult
        let created: Bool
        let madeDirectories: [String]
        do {
            (result, created, madeDirectories) = try await server.putFileReportingCreation(name, from: meter, sha256: sha256)
        } catch {
            if meter.tally.exceededLimit { return .failure(.tooLarge(maximumUploadBytes)) }
            return .failure(APIError(error))
        }
        // The one look at the stored file: its identity for the session, its size for the answer.
        let info = try? store.fileInfo(name)
        if let session, let info {
            _ = sessions.record(
                .init(path: name, device: info.device, inode: info.inode), created: created, directories: madeDirectories, in: session)
        }
        let skipped = result == .unchanged
        let digest = skipped ? (sha256 ?? "").lowercased() : meter.tally.sha256
        if !skipped { logger.info("control plane: stored \(name) (\(meter.tally.bytes) bytes)") }
        let answer = Components.Schemas.PutResult(
            path: name, skipped: skipped, size: Int64(clamping: info?.size ?? UInt64(meter.tally.bytes)), sha256: digest)
        return .success((answer, created: created))
    }

    private static func failed(_ error: APIError) -> Operations.PutFile.Output {
        .default(statusCode: error.status, .init(body: .json(error.body)))
    }
}

/// A request body as byte arrays, for the store.
struct BodyChunks: AsyncSequence, Sendable {
    let body: HTTPBody

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPBody.AsyncIterator
        mutating func next() async throws -> [UInt8]? {
            guard let chunk: ArraySlice<UInt8> = try await base.next() else { return nil }
            return [UInt8](chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}
