import VolleyServer

extension ControlAPI {
    func createSession(_ input: Operations.CreateSession.Input) async throws -> Operations.CreateSession.Output {
        let ttl = input.query.ttlSeconds
        if let ttl, !(1...86_400).contains(ttl) {
            return .default(statusCode: 400, .init(body: .json(.init(error: "BadRequest", message: "ttl_seconds must be from 1 to 86400"))))
        }
        let session = sessions.create(ttlSeconds: ttl)
        logger.info("control plane: session \(session.id) opened for \(session.ttlSeconds) s")
        return .created(.init(body: .json(Self.describe(session))))
    }

    func getSession(_ input: Operations.GetSession.Input) async throws -> Operations.GetSession.Output {
        guard let session = sessions.session(input.path.id) else {
            return .default(statusCode: 404, .init(body: .json(APIError.unknownSession(input.path.id).body)))
        }
        return .ok(.init(body: .json(Self.describe(session))))
    }

    func renewSession(_ input: Operations.RenewSession.Input) async throws -> Operations.RenewSession.Output {
        guard let session = sessions.renew(input.path.id) else {
            return .default(statusCode: 404, .init(body: .json(APIError.unknownSession(input.path.id).body)))
        }
        return .ok(.init(body: .json(Self.describe(session))))
    }

    func deleteSession(_ input: Operations.DeleteSession.Input) async throws -> Operations.DeleteSession.Output {
        guard let session = sessions.end(input.path.id) else {
            return .default(statusCode: 404, .init(body: .json(APIError.unknownSession(input.path.id).body)))
        }
        let removed = removeFiles(of: session, because: "ended")
        return .ok(.init(body: .json(.init(id: session.id, removed: removed))))
    }

    /// Removes the files a finished session created that are still the ones it wrote, then
    /// the directories made for them that are empty now (deepest first).
    @discardableResult
    func removeFiles(of session: SessionTable.Session, because reason: String) -> [String] {
        var removed: [String] = []
        for file in session.files.values.sorted(by: { $0.path < $1.path }) {
            guard let info = try? store.fileInfo(file.path), info.device == file.device, info.inode == file.inode else { continue }
            do {
                try server.deleteFile(file.path)
                removed.append(file.path)
            } catch {
                logger.warning("control plane: session \(session.id): cannot remove \(file.path): \(error)")
            }
        }
        var directories = 0
        for directory in session.directories.sorted(by: { ($0.count, $0) > ($1.count, $1) }) {
            do {
                if try server.removeEmptyDirectory(directory) { directories += 1 }
            } catch {
                logger.warning("control plane: session \(session.id): cannot remove directory \(directory): \(error)")
            }
        }
        logger.info(
            "control plane: session \(session.id) \(reason); removed \(removed.count) file(s) and \(directories) empty director\(directories == 1 ? "y" : "ies")"
        )
        return removed
    }

    private static func describe(_ session: SessionTable.Session) -> Components.Schemas.Session {
        .init(
            id: session.id, ttlSeconds: session.ttlSeconds, expiresInSeconds: session.expiresInSeconds, files: session.files.keys.sorted())
    }
}
