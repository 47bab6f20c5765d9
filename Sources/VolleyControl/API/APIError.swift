import VolleyServer

/// An error answer of the API: its status and the stable name in `{"error": …}`.
struct APIError: Error {
    var status: Int
    var name: String
    var message: String

    /// The body of the answer.
    var body: Components.Schemas._Error { .init(error: name, message: message) }

    /// The answer a failed file or server call gets.
    init(_ error: TFTPError) {
        message = error.description
        switch error {
        case .fileNotFound: (status, name) = (404, "FileNotFound")
        case .accessViolation: (status, name) = (403, "AccessViolation")
        case .checksumMismatch: (status, name) = (422, "ChecksumMismatch")
        case .storageFull: (status, name) = (507, "InsufficientStorage")
        case .serverNotRunning: (status, name) = (409, "ServerNotRunning")
        case .serverAlreadyRunning: (status, name) = (409, "ServerAlreadyRunning")
        case .invalidConfiguration: (status, name) = (500, "InvalidConfiguration")
        case .cannotListen: (status, name) = (500, "CannotListen")
        case .io: (status, name) = (500, "IOError")
        }
    }

    init(status: Int, name: String, message: String) {
        self.status = status
        self.name = name
        self.message = message
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(
            status: 413, name: "PayloadTooLarge",
            message: "the file is larger than control_max_upload_bytes (\(limit) bytes); nothing was stored")
    }

    static func unknownSession(_ id: String) -> APIError {
        APIError(status: 404, name: "SessionNotFound", message: "no session \(id) (it ended or expired)")
    }
}
