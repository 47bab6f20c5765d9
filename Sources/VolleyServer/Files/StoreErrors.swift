import VolleySystem

extension TFTPError {
    /// Maps a failed lookup of `name` below the root to the API error the caller sees.
    static func lookup(_ error: SystemError, name: String) -> TFTPError {
        switch FileAccessError.Kind(error.errno) {
        case .notFound: .fileNotFound(name)
        case .accessDenied: .accessViolation(name)
        default: .io(error, name: name)
        }
    }

    /// Maps a failed open of `name` for reading (through ``ConfinedRoot``) to the API error.
    static func reading(_ error: FileAccessError, name: String) -> TFTPError {
        switch error.kind {
        case .notFound: .fileNotFound(name)
        case .accessDenied, .invalidName: .accessViolation(name)
        case .notARegularFile: .io("open \(name.debugDescription): not a regular file")
        case .notWorldReadable, .resourcesExhausted, .other: .io("open \(name.debugDescription): \(error.logDetail)")
        }
    }

    /// An ``io(_:)`` error for a failed call on `name`; ``storageFull(_:)`` when the disk or quota is full.
    static func io(_ error: SystemError, name: String) -> TFTPError {
        let message = "\(error.call) \(name.debugDescription): \(error.reason)"
        return error.errno == .noSpace || error.errno == .diskQuotaExceeded ? .storageFull(message) : .io(message)
    }
}

extension ConfinedRoot {
    /// Opens the store's root, turning a missing or unusable root into ``TFTPError/invalidConfiguration(_:)``.
    static func forStore(_ path: String) throws(TFTPError) -> ConfinedRoot {
        do {
            return try ConfinedRoot(path: path)
        } catch {
            throw .invalidConfiguration(error.logDetail)
        }
    }
}

extension RelativePath {
    /// Parses an API name, refusing malformed or escaping names with ``TFTPError/accessViolation(_:)``.
    static func forStore(_ name: String) throws(TFTPError) -> RelativePath {
        switch parse(name) {
        case .success(let path): return path
        case .failure: throw .accessViolation(name)
        }
    }
}
