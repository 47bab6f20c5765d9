import Foundation
import Logging
import VolleyServer

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
    private static func firstFile(in root: String) -> String? {
        guard
            let enumerator = FileManager.default.enumerator(
                at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey],
                options: [.skipsSubdirectoryDescendants, .skipsHiddenFiles])
        else { return nil }
        var best: String?
        var looked = 0
        while let url = enumerator.nextObject() as? URL, looked < 1000 {
            looked += 1
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let name = url.lastPathComponent
            if best == nil || name < best! { best = name }
        }
        return best
    }
}
