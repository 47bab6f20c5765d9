import Foundation
import Glibc
import Testing
@testable import VolleyServer

/// An upload stream that records an issue if anyone iterates it.
struct UntouchableStream: AsyncSequence {
    typealias Element = [UInt8]
    struct AsyncIterator: AsyncIteratorProtocol {
        mutating func next() async throws -> [UInt8]? {
            Issue.record("the upload stream was consumed")
            return nil
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}

/// An upload stream that yields `chunks` and then fails.
struct FailingStream: AsyncSequence {
    typealias Element = [UInt8]
    struct Broken: Error {}
    let chunks: [[UInt8]]
    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: [[UInt8]]
        mutating func next() async throws -> [UInt8]? {
            if remaining.isEmpty { throw Broken() }
            return remaining.removeFirst()
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: chunks) }
}

/// An `AsyncStream` of `chunks`.
func stream(_ chunks: [[UInt8]]) -> AsyncStream<[UInt8]> {
    AsyncStream { continuation in
        for chunk in chunks { continuation.yield(chunk) }
        continuation.finish()
    }
}

/// The lowercase hex SHA-256 of `bytes`, computed independently of the store.
func digest(_ bytes: [UInt8]) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("volley-digest-\(UUID().uuidString)")
    try Data(bytes).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    // RunningProcess, not Foundation's Process with a Pipe: a pipe's write end can leak into
    // another test's long-running child, and reading to EOF would then stall.
    let result = try RunningProcess("/usr/bin/sha256sum", arguments: [file.path], timeout: 30).waitBlocking()
    guard result.status == 0, !result.killedBySignal else { throw TestFailure("sha256sum: \(result)") }
    return String(result.stdout.prefix(64))
}

extension FileStore {
    @Suite struct PutFileTests {
        @Test func putBytesWritesTheFileWithDirectoriesAndMode0644() throws {
            try Scratch.with { (scratch) throws in
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.putFile("boot/x86/kernel.img", bytes: bytes("kernel")) == .written)
                #expect(scratch.contents("root/boot/x86/kernel.img") == bytes("kernel"))
                #expect(scratch.status("root/boot/x86/kernel.img").st_mode & 0o7777 == 0o644)
                #expect(scratch.status("root/boot/x86").st_mode & S_IFMT == S_IFDIR)
                #expect(try store.putFile("\\win\\boot.wim", bytes: bytes("wim")) == .written)
                #expect(scratch.contents("root/win/boot.wim") == bytes("wim"))
                #expect(try store.putFile("empty", bytes: []) == .written)
                #expect(scratch.contents("root/empty") == [])
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func leadingSlashPutsBelowTheRoot() throws {
            try Scratch.with { (scratch) throws in
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                let absoluteOutside = scratch.outside + "/secret.txt"
                #expect(try store.putFile(absoluteOutside, bytes: bytes("mine")) == .written)
                #expect(scratch.contents("outside/secret.txt") == bytes("SECRET"))
                #expect(scratch.contents("root" + absoluteOutside) == bytes("mine"))
            }
        }

        @Test func putBytesOverwritesDifferentContentAndSkipsSameContent() throws {
            try Scratch.with { (scratch) throws in
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                try scratch.write("root/a.bin", "old")
                #expect(try store.putFile("a.bin", bytes: bytes("new")) == .written)
                #expect(scratch.contents("root/a.bin") == bytes("new"))
                let before = scratch.status("root/a.bin")
                #expect(try store.putFile("a.bin", bytes: bytes("new")) == .unchanged)
                let after = scratch.status("root/a.bin")
                #expect(after.st_ino == before.st_ino)
                #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
            }
        }

        @Test func putLocalFileCopiesAndSkipsWhenTheChecksumMatches() throws {
            try Scratch.with { (scratch) throws in
                let content = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
                try scratch.write("local/initrd.img", bytes: content)
                let local = scratch.base + "/local/initrd.img"
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.putFile("initrd.img", contentsOf: local) == .written)
                #expect(scratch.contents("root/initrd.img") == content)
                #expect(try store.sha256(ofFile: "initrd.img") == digest(content))
                let before = scratch.status("root/initrd.img")
                usleep(20_000)
                #expect(try store.putFile("initrd.img", contentsOf: local) == .unchanged)
                let after = scratch.status("root/initrd.img")
                #expect(after.st_ino == before.st_ino)
                #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
                try scratch.write("local/initrd.img", bytes: content + [1])
                #expect(try store.putFile("initrd.img", contentsOf: local) == .written)
                #expect(scratch.contents("root/initrd.img") == content + [1])
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func putMissingLocalFileIsFileNotFound() throws {
            try Scratch.with { (scratch) throws in
                let local = scratch.base + "/local/none"
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(throws: TFTPError.fileNotFound(local)) { try store.putFile("a", contentsOf: local) }
                #expect(!scratch.exists("root/a"))
            }
        }

        @Test func putStreamWritesAllChunks() async throws {
            try await Scratch.with { (scratch) async throws in
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                let chunks = [bytes("hello "), [], bytes("netboot "), bytes("lab")]
                #expect(try await store.putFile("s/greeting", from: stream(chunks)) == .written)
                #expect(scratch.contents("root/s/greeting") == bytes("hello netboot lab"))
                let expected = try digest(bytes("second"))
                #expect(
                    try await store.putFile("s/greeting", from: stream([bytes("sec"), bytes("ond")]), sha256: expected.uppercased())
                        == .written)
                #expect(scratch.contents("root/s/greeting") == bytes("second"))
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func putStreamWithTheStoredChecksumIsSkippedWithoutConsumingIt() async throws {
            try await Scratch.with { (scratch) async throws in
                try scratch.write("root/kernel", "kernel")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                let before = scratch.status("root/kernel")
                let result = try await store.putFile("kernel", from: UntouchableStream(), sha256: try digest(bytes("kernel")))
                #expect(result == .unchanged)
                let after = scratch.status("root/kernel")
                #expect(after.st_ino == before.st_ino)
                #expect(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
                #expect(scratch.contents("root/kernel") == bytes("kernel"))
            }
        }

        @Test func putStreamChecksumMismatchKeepsTheOldFile() async throws {
            try await Scratch.with { (scratch) async throws in
                try scratch.write("root/sub/kernel", "old kernel")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                let wrong = try digest(bytes("something else"))
                await #expect(throws: TFTPError.checksumMismatch("sub/kernel")) {
                    try await store.putFile("sub/kernel", from: stream([bytes("new "), bytes("kernel")]), sha256: wrong)
                }
                #expect(scratch.contents("root/sub/kernel") == bytes("old kernel"))
                #expect(scratch.uploadTemporaries() == [])
                await #expect(throws: TFTPError.checksumMismatch("fresh")) {
                    try await store.putFile("fresh", from: stream([bytes("x")]), sha256: wrong)
                }
                #expect(!scratch.exists("root/fresh"))
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func putStreamThatFailsKeepsTheOldFile() async throws {
            try await Scratch.with { (scratch) async throws in
                try scratch.write("root/kernel", "old")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                await #expect {
                    try await store.putFile("kernel", from: FailingStream(chunks: [bytes("partial")]))
                } throws: { error in
                    if case .io = error as? TFTPError { return true }
                    return false
                }
                #expect(scratch.contents("root/kernel") == bytes("old"))
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test(arguments: [
            "../x", "sub/../../x", "..", "outdir/evil", "absdir/evil", "outdir/new/evil", "escape", "", "sub/",
            ".volley-upload-1",
        ])
        func putRefusesHostileNames(name: String) async throws {
            try await Scratch.with { (scratch) async throws in
                try scratch.mkdir("root/sub")
                try scratch.symlink("root/outdir", to: "../outside")
                try scratch.symlink("root/absdir", to: scratch.outside)
                try scratch.symlink("root/escape", to: "../outside/secret.txt")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(throws: TFTPError.accessViolation(name)) { try store.putFile(name, bytes: bytes("evil")) }
                await #expect(throws: TFTPError.accessViolation(name)) {
                    try await store.putFile(name, from: stream([bytes("evil")]))
                }
                try scratch.write("local", "evil")
                #expect(throws: TFTPError.accessViolation(name)) {
                    try store.putFile(name, contentsOf: scratch.base + "/local")
                }
                #expect(scratch.contents("outside/secret.txt") == bytes("SECRET"))
                #expect(scratch.contents("x") == bytes("escaped"))
                let outsideEntries = try FileManager.default.contentsOfDirectory(atPath: scratch.outside)
                #expect(outsideEntries == ["secret.txt"])
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func putOntoADirectoryFailsAndLeavesNoTemporary() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/sub/inner", "i")
                try scratch.write("root/file", "f")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect { try store.putFile("sub", bytes: bytes("x")) } throws: { error in
                    if case .io(let message) = error as? TFTPError { return message.contains("not a regular file") }
                    return false
                }
                #expect { try store.putFile("file/below", bytes: bytes("x")) } throws: { error in
                    if case .io = error as? TFTPError { return true }
                    return false
                }
                #expect(scratch.contents("root/sub/inner") == bytes("i"))
                #expect(scratch.contents("root/file") == bytes("f"))
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func putFollowsSymlinkedDirectoriesInsideTheRoot() throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/images/v2")
                try scratch.symlink("root/current", to: "images/v2")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.putFile("current/new/kernel", bytes: bytes("k")) == .written)
                #expect(scratch.contents("root/images/v2/new/kernel") == bytes("k"))
            }
        }

        /// A symlink that leaves its own directory but stays in the root is followed when the
        /// directories below it are made, and one that leaves the root is still refused.
        @Test func putMakesDirectoriesBelowASymlinkThatLeavesItsParentInsideTheRoot() throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/releases/v3")
                try scratch.mkdir("root/images")
                try scratch.symlink("root/images/latest", to: "../releases/v3")
                try scratch.symlink("root/images/out", to: "../../outside")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.putFile("images/latest/new/deeper/kernel", bytes: bytes("k")) == .written)
                #expect(scratch.contents("root/releases/v3/new/deeper/kernel") == bytes("k"))
                #expect(throws: TFTPError.accessViolation("images/out/new/kernel")) {
                    try store.putFile("images/out/new/kernel", bytes: bytes("x"))
                }
                #expect(!FileManager.default.fileExists(atPath: scratch.outside + "/new"))
            }
        }

        /// A name near the longest a client can send: 1,500 directories are made, then the file is read
        /// back, replaced and deleted.
        @Test func putAndDeleteAPathOfFifteenHundredDirectories() throws {
            try Scratch.with { (scratch) throws in
                let name = Array(repeating: "d", count: 1500).joined(separator: "/") + "/f"
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.putFile(name, bytes: bytes("deep")) == .written)
                #expect(scratch.contents("root/" + name) == bytes("deep"))
                #expect(try store.putFile(name, bytes: bytes("deeper")) == .written)
                #expect(scratch.contents("root/" + name) == bytes("deeper"))
                try store.deleteFile(name)
                #expect(!FileManager.default.fileExists(atPath: scratch.root + "/" + name))
                #expect(scratch.uploadTemporaries() == [])
            }
        }

        @Test func replacingIsAtomicForReadersThatAlreadyOpenedTheFile() throws {
            try Scratch.with { (scratch) throws in
                let old = [UInt8](repeating: 0xAA, count: 100_000)
                let new = [UInt8](repeating: 0x55, count: 50_000)
                try scratch.write("root/initrd", bytes: old)
                let root = try ConfinedRoot(path: scratch.root)
                let before = try root.openForReading("initrd").get()
                #expect(try RootDirectoryStore(rootDirectory: scratch.root).putFile("initrd", bytes: new) == .written)
                #expect(readAll(before.descriptor) == old)
                #expect(before.size == 100_000)
                let after = try root.openForReading("initrd").get()
                #expect(readAll(after.descriptor) == new)
                #expect(after.size == 50_000)
            }
        }
    }
}
