import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import VolleySystem

/// `volley files put`: upload a local file, skipped when the server already has the same bytes.
struct PutFileCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Upload a local file into the root (atomically; skipped when the root already holds the same bytes).",
        discussion:
            "The SHA-256 is computed first and compared with the server's, so an unchanged file is not sent again; the server checks the bytes it receives against it."
    )

    @OptionGroup var connection: ControlConnectionOptions

    @Argument(help: ArgumentHelp("Local file to upload.", valueName: "file"))
    var file: String

    @Argument(help: ArgumentHelp("Path under the root (default: the file's name).", valueName: "name"))
    var name: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Session id; the file is removed when the session ends (default: $VOLLEY_SESSION).", valueName: "id"))
    var session: String?

    func run(_ control: ControlConnection) async throws {
        let target = name ?? URL(fileURLWithPath: file).lastPathComponent
        // One open for the size, the digest and the body, so that all three see the same file.
        let unreadable = ControlFailure(.usage, "cannot read \(file)")
        let source: OwnedDescriptor
        do {
            source = try FileSystem.open(file)
        } catch {
            throw unreadable
        }
        let size: Int64
        let digest: String
        do {
            size = Int64(try FileSystem.status(of: source.descriptor).size)
            digest = try Self.sha256(of: source.descriptor)
            try FileSystem.rewind(source.descriptor)
        } catch {
            throw unreadable
        }
        if try await FileChecksumCommand.remoteDigest(of: target, control: control) == digest {
            print("\(target): unchanged (sha256 \(digest)), not sent")
            return
        }
        var headers = [("X-Checksum-SHA256", digest), ("Content-Type", "application/octet-stream")]
        if let session = session ?? ProcessInfo.processInfo.environment["VOLLEY_SESSION"] { headers.append(("X-Volley-Session", session)) }
        var request = control.request(.PUT, ControlConnection.filePath(target), headers: headers)
        let progress = StandardError.isTerminal ? ProgressBar(total: size, label: target) : nil
        request.body = .stream(FileBuffers(chunks: FileReadChunks(adopting: source), progress: progress), length: .known(size))
        let response = try await control.send(request)
        progress?.finish()
        try await ControlConnection.check(response, subject: target)
        print(try await Self.summary(of: response))
    }

    /// "boot/vmlinuz: created (12345678 bytes, sha256 …)".
    static func summary(of response: HTTPClientResponse) async throws -> String {
        struct Result: Decodable {
            var path: String
            var skipped: Bool
            var size: Int64
            var sha256: String
        }
        let bytes = try await ControlConnection.body(of: response)
        guard let result = try? JSONDecoder().decode(Result.self, from: Data(bytes)) else {
            throw ControlFailure(.failed, "the server's answer is not the expected JSON")
        }
        let what = result.skipped ? "unchanged" : response.status.code == 201 ? "created" : "replaced"
        return "\(result.path): \(what) (\(result.size) bytes, sha256 \(result.sha256))"
    }

    /// The SHA-256 of what `file` holds from its offset to its end, as lowercase hex.
    static func sha256(of file: Descriptor) throws(SystemError) -> String {
        let hasher = SHA256Hasher()
        try hasher.update(readingToEndOf: file)
        return hasher.finalizeHex()
    }
}

/// A local file as a request body, read in chunks, moving the progress bar.
private struct FileBuffers: AsyncSequence, Sendable {
    let chunks: FileReadChunks
    let progress: ProgressBar?

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: FileReadChunks.AsyncIterator
        let progress: ProgressBar?
        mutating func next() async throws -> ByteBuffer? {
            guard let bytes = try await chunks.next() else { return nil }
            progress?.advance(by: bytes.count)
            return ByteBuffer(bytes: bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeAsyncIterator(), progress: progress) }
}
