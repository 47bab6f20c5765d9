import Foundation
import Glibc

/// Where the executables under test live.
enum VolleyBinaries {
    /// The `volley` executable of this build: beside the test bundle (same scratch path and
    /// configuration), else `<package root>/.build/debug/volley`; `VOLLEY_BINARY` overrides both.
    static func volley(filePath: String = #filePath) throws -> String {
        if let override = ProcessInfo.processInfo.environment["VOLLEY_BINARY"] { return override }
        var candidates: [String] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((executable as NSString).deletingLastPathComponent + "/volley")
        }
        // Tests/VolleyServerTests/<folder>/<file> → package root.
        var root = filePath as NSString
        for _ in 0..<4 { root = root.deletingLastPathComponent as NSString }
        candidates.append((root as String) + "/.build/debug/volley")
        for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
        throw TestFailure("volley executable not found (looked at \(candidates)); run swift build first")
    }

    /// A program on the usual paths (systemd-socket-activate, curl).
    static func program(_ name: String) throws -> String {
        let path = executablePath(name)
        guard path.hasPrefix("/") else { throw TestFailure("\(name) is not installed (scripts/bootstrap installs it)") }
        return path
    }
}
