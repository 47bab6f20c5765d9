import SystemPackage

/// Why a file could not be opened; maps to a TFTP error code without ever revealing server paths.
struct FileAccessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of failure, which decides the TFTP error sent to the client.
    enum Kind: Sendable, Hashable {
        /// No such file (or a path component is not a directory).
        case notFound
        /// The name resolves outside the root, loops, or is not permitted.
        case accessDenied
        /// The name resolves to a directory, FIFO, device or socket.
        case notARegularFile
        /// The name itself is malformed: empty, contains NUL or `..`, or is too long.
        case invalidName
        /// The file is not readable by everyone, and only such files are served.
        case notWorldReadable
        /// Out of descriptors or memory: the server is busy, the client may retry.
        case resourcesExhausted
        /// Any other failure (I/O errors).
        case other

        /// The one mapping from a failed lookup's errno to what it means for a request.
        init(_ errno: Errno) {
            switch errno {
            case .noSuchFileOrDirectory, .notDirectory: self = .notFound
            case .improperLink, .tooManySymbolicLinkLevels, .permissionDenied, .notPermitted: self = .accessDenied
            case .fileNameTooLong: self = .invalidName
            case .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noMemory: self = .resourcesExhausted
            default: self = .other
            }
        }
    }

    /// The class of failure.
    let kind: Kind
    /// Safe text for the TFTP ERROR packet; never contains a server path.
    let clientMessage: String
    /// Precise text for the log; names are root-relative.
    let logDetail: String

    /// Creates an error of `kind`, with the client message that kind always carries.
    init(_ kind: Kind, logDetail: String) {
        self.kind = kind
        self.logDetail = logDetail
        self.clientMessage =
            switch kind {
            case .notFound: "File not found"
            case .accessDenied, .notWorldReadable: "Access violation"
            case .notARegularFile: "Not a regular file"
            case .invalidName: "Illegal file name"
            case .resourcesExhausted: "Server busy, try again"
            case .other: "Cannot open file"
            }
    }

    /// The RFC 1350 error code for this failure: 1 file not found, 2 access violation, 0 otherwise.
    var tftpErrorCode: UInt16 {
        switch kind {
        case .notFound: 1
        case .accessDenied, .notARegularFile, .invalidName, .notWorldReadable: 2
        case .resourcesExhausted, .other: 0
        }
    }

    /// The refusal reason events report for this failure.
    var refusalReason: RefusalReason {
        switch kind {
        case .notFound: .fileNotFound
        case .accessDenied: .accessViolation
        case .notARegularFile: .notARegularFile
        case .invalidName: .invalidName
        case .notWorldReadable: .notWorldReadable
        case .resourcesExhausted, .other: .serverError
        }
    }

    /// `"<client message>: <log detail>"`.
    var description: String { "\(clientMessage): \(logDetail)" }
}
