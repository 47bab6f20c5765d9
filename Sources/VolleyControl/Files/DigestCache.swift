import Synchronization
import VolleyServer

/// SHA-256 digests of served files, keyed by identity, size and times, so that a repeated
/// `HEAD` (Jumpstarter's `check_file_checksum` before each upload) does not reread the file.
/// Any write, truncation or rename changes the key.
final class DigestCache: Sendable {
    /// Keyed by the whole ``StoredFileInfo``: path, identity, size and both times.
    private let digests = Mutex<[StoredFileInfo: String]>([:])
    private let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The digest of the file `reader` has open, computed at most once per version of it.
    func digest(of reader: StoredFileReader) throws(TFTPError) -> String {
        let key = reader.info
        if let known = digests.withLock({ $0[key] }) { return known }
        let digest = try reader.sha256()
        digests.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = digest
        }
        return digest
    }
}
