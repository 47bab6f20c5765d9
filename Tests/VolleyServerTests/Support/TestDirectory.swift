import Foundation
import Glibc
import VolleyTestSupport

/// A throw-away directory for one end-to-end or API test; call ``remove()`` in a `defer`.
final class TestDirectory: Sendable {
    /// The directory's absolute path.
    let path: String

    /// Creates a fresh, empty directory under the system's temporary directory.
    init(_ label: String = "test") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("volley-e2e-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The absolute path of `relative` below this directory.
    func path(_ relative: String) -> String { path + "/" + relative }

    /// Writes `content` to `relative`, creating directories as needed.
    @discardableResult
    func write(_ relative: String, _ content: [UInt8]) throws -> String {
        let full = path(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(content)) else {
            throw TestFailure("cannot write \(full)")
        }
        return full
    }

    /// Makes the directory `relative`.
    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    /// Makes a symlink at `relative` whose target text is `target`.
    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path(relative), withDestinationPath: target)
    }

    /// The bytes of `relative`, or nil when it does not exist.
    func contents(_ relative: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path(relative)).map { [UInt8]($0) }
    }

    /// Whether anything (even a dangling symlink) exists at `relative`.
    func exists(_ relative: String) -> Bool {
        var status = stat()
        return lstat(path(relative), &status) == 0
    }

    /// Every entry below the directory (relative paths, sorted).
    func allEntries() -> [String] {
        ((FileManager.default.subpaths(atPath: path)) ?? []).sorted()
    }
}

/// A plain failure with a message, for helpers that must stop a test.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Deterministic pseudo-random bytes (SplitMix64), so every run serves the same files.
enum SeededBytes {
    /// `count` bytes from the stream seeded with `seed`.
    static func make(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                let n = min(8, count - offset)
                withUnsafeBytes(of: generator.next().littleEndian) { word in
                    raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: n)
                }
                offset += n
            }
            initialized = count
        }
    }
}

/// Compares two byte arrays with memcmp (fast in debug builds) and describes the first difference.
func byteDifference(_ actual: [UInt8]?, _ expected: [UInt8]) -> String? {
    guard let actual else { return "no bytes at all (expected \(expected.count))" }
    if actual.count == expected.count {
        let same = actual.withUnsafeBytes { a in
            expected.withUnsafeBytes { b in
                a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
        if same { return nil }
    }
    let common = min(actual.count, expected.count)
    var first = common
    for i in 0..<common where actual[i] != expected[i] {
        first = i
        break
    }
    return "got \(actual.count) bytes, expected \(expected.count); first difference at offset \(first)"
}
