import VolleySystem

/// What the libFuzzer harnesses in `fuzz/` need of the internal file-name handling: ``RelativePath/parse(_:)``
/// and ``ConfinedRoot/openForReading(_:requireWorldReadable:)``, behind `@_spi(Fuzzing)`.
///
/// Not API: only `@_spi(Fuzzing) import VolleyServer` sees it, and it may change with the internals it forwards to.
/// Each entry point forwards to the code the server runs and only copies the results into public types.
@_spi(Fuzzing)
public enum FileNameFuzzing {
    /// The class of a refusal, one case per internal ``FileAccessError/Kind``.
    public enum FailureKind: Sendable, Hashable {
        case notFound, accessDenied, notARegularFile, invalidName, notWorldReadable, resourcesExhausted, other
    }

    /// A refused name or a failed open, as the server would report it.
    public struct Failure: Error, Sendable, Hashable {
        /// The class of failure.
        public let kind: FailureKind
        /// The text of the TFTP ERROR packet.
        public let clientMessage: String
        /// The text of the log line.
        public let logDetail: String
        /// The TFTP error code sent.
        public let tftpErrorCode: UInt16

        init(_ error: FileAccessError) {
            kind =
                switch error.kind {
                case .notFound: .notFound
                case .accessDenied: .accessDenied
                case .notARegularFile: .notARegularFile
                case .invalidName: .invalidName
                case .notWorldReadable: .notWorldReadable
                case .resourcesExhausted: .resourcesExhausted
                case .other: .other
                }
            clientMessage = error.clientMessage
            logDetail = error.logDetail
            tftpErrorCode = error.tftpErrorCode
        }
    }

    /// An accepted name: its components and the bytes handed to `openat2`.
    public struct ParsedName: Sendable, Hashable {
        /// The components, in order.
        public let components: [[UInt8]]
        /// The components joined by `/`.
        public let bytes: [UInt8]
    }

    /// Parses a client's file name as a read request does.
    public static func parse(_ raw: [UInt8]) -> Result<ParsedName, Failure> {
        switch RelativePath.parse(raw) {
        case .success(let path): .success(ParsedName(components: path.components, bytes: path.bytes))
        case .failure(let error): .failure(Failure(error))
        }
    }

    /// A served root directory, opened as the server opens it.
    public final class Root: Sendable {
        private let root: ConfinedRoot

        /// Opens the root directory at `path`.
        public init(path: String) throws(Failure) {
            do {
                root = try ConfinedRoot(path: path)
            } catch {
                throw Failure(error)
            }
        }

        /// Opens `name` (the bytes a client sent) below the root as a read request does.
        public func openForReading(_ name: [UInt8], requireWorldReadable: Bool) -> Result<OpenedFile, Failure> {
            switch root.openForReading(name, requireWorldReadable: requireWorldReadable) {
            case .success(let file): .success(OpenedFile(file))
            case .failure(let error): .failure(Failure(error))
            }
        }
    }

    /// A file opened by ``Root/openForReading(_:requireWorldReadable:)``; closed when released.
    public final class OpenedFile: Sendable {
        private let file: OpenFile

        init(_ file: OpenFile) { self.file = file }

        /// The open descriptor, valid while this object lives.
        public var descriptor: Descriptor { file.descriptor }
        /// The size recorded at open.
        public var size: UInt64 { file.size }
    }
}
