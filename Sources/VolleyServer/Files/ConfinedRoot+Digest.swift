extension ConfinedRoot {
    /// The SHA-256 of the regular file `name`, or nil when there is none; escaping names throw.
    func existingDigest(of name: String) throws(TFTPError) -> String? {
        let file: OpenFile
        switch openForReading(name) {
        case .success(let opened): file = opened
        case .failure(let error) where error.kind == .notFound: return nil
        case .failure(let error): throw .reading(error, name: name)
        }
        do {
            return try SHA256Hex.of(descriptor: file.descriptor)
        } catch {
            throw .io(error, name: name)
        }
    }
}
