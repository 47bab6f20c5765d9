import Logging
import VolleyServer
import VolleySystem

/// Tells a newcomer how to fetch something right away, from a look at the root's top
/// level only: a root of 100,000 files must not delay start-up.
enum FetchHint {
    static func log(_ server: TFTPServer, logger: Logger) {
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        let shown = (host == "0.0.0.0" || host == "[::]") ? "127.0.0.1" : host
        guard let file = firstFile(in: server.configuration.rootDirectory) else {
            logger.info(
                "the root has no file at its top level: put files in it, then fetch them with curl -O tftp://\(shown):\(server.port)/NAME")
            return
        }
        logger.info("try: curl -o \(file) tftp://\(shown):\(server.port)/\(file)")
    }

    /// The first regular, visible file directly in `root`, by name; at most 1000 entries are looked at.
    /// Hidden entries (names starting with a dot) are neither looked at nor counted; symlinks are not regular files.
    private static func firstFile(in root: String) -> String? {
        guard let opened = try? FileSystem.open(root, options: .directory) else { return nil }
        let directory = opened.descriptor
        var best: String?
        var looked = 0
        try? FileSystem.forEachEntry(of: directory) { name, kind in
            guard !name.hasPrefix(".") else { return true }
            looked += 1
            if (kind ?? (try? FileSystem.status(of: name, in: directory))?.kind) == .regular, best == nil || name < best! {
                best = name
            }
            return looked < 1000
        }
        return best
    }
}
