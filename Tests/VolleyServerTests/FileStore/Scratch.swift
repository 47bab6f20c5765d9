import Foundation
import Glibc
import Testing
import VolleySystem

/// The file-store tests, grouped so `swift test --filter VolleyServerTests.FileStore` runs them all.
@Suite enum FileStore {}

/// A throw-away directory for one test: `root` is served, `outside` is a sibling that must stay unreachable.
struct Scratch {
    /// The temporary directory holding `root` and `outside`.
    let base: String
    /// The directory under test.
    var root: String { base + "/root" }
    /// A directory next to the root, the target of escape attempts.
    var outside: String { base + "/outside" }

    /// Runs `body` with a fresh scratch directory and removes it afterwards.
    static func with<R>(_ body: (Scratch) throws -> R) throws -> R {
        let scratch = try Scratch()
        defer { scratch.remove() }
        return try body(scratch)
    }

    /// Runs async `body` with a fresh scratch directory and removes it afterwards.
    static func with<R>(_ body: (Scratch) async throws -> R) async throws -> R {
        let scratch = try Scratch()
        defer { scratch.remove() }
        return try await body(scratch)
    }

    private init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("volley-filestore-\(UUID().uuidString)", isDirectory: true)
        base = url.path
        try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
        try write("outside/secret.txt", "SECRET")
        try write("x", "escaped")
    }

    private func remove() {
        try? FileManager.default.removeItem(atPath: base)
    }

    /// Writes `text` to `relative` (below `base`), making directories as needed.
    func write(_ relative: String, _ text: String) throws {
        try write(relative, bytes: Array(text.utf8))
    }

    /// Writes `bytes` to `relative` (below `base`), making directories as needed.
    func write(_ relative: String, bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: base + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Makes the directory `relative` (below `base`).
    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: base + "/" + relative, withIntermediateDirectories: true)
    }

    /// Makes a symlink at `relative` (below `base`) whose target text is `target`.
    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: base + "/" + relative, withDestinationPath: target)
    }

    /// The bytes of `relative` (below `base`), or nil when it cannot be read.
    func contents(_ relative: String) -> [UInt8]? {
        FileManager.default.contents(atPath: base + "/" + relative).map { Array($0) }
    }

    /// Whether anything (even a dangling symlink) exists at `relative` (below `base`).
    func exists(_ relative: String) -> Bool {
        var status = stat()
        return lstat(base + "/" + relative, &status) == 0
    }

    /// The `lstat` of `relative` (below `base`).
    func status(_ relative: String) -> stat {
        var status = stat()
        #expect(lstat(base + "/" + relative, &status) == 0, "lstat \(relative)")
        return status
    }

    /// Every path below `base` whose last component starts with the upload-temporary prefix.
    func uploadTemporaries() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: base)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if (path as NSString).lastPathComponent.hasPrefix(".volley-upload-") { found.append(path) }
        }
        return found
    }
}

/// Everything readable from `descriptor` starting at offset 0.
func readAll(_ descriptor: Descriptor) -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { pread(descriptor.rawValue, $0.baseAddress, $0.count, off_t(result.count)) }
        if count <= 0 { break }
        result += buffer[..<count]
    }
    return result
}

/// The bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
