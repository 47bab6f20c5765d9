import Foundation
import Glibc
import Testing
@testable import VolleyServer

extension FileStore {
    @Suite struct RootDirectoryStoreTests {
        /// SHA-256 of "abc" (FIPS 180-2 test vector).
        static let abcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

        @Test func listFilesIsNestedSortedAndSkipsTemporaries() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/z.bin", "z")
                try scratch.write("root/a.bin", "a")
                try scratch.write("root/.hidden", "h")
                try scratch.write("root/sub/dir/b.bin", "b")
                try scratch.write("root/sub/c.bin", "c")
                try scratch.mkdir("root/empty")
                try scratch.write("root/.volley-upload-1234", "partial")
                try scratch.write("root/sub/.volley-upload-abcd", "partial")
                try scratch.symlink("root/alias-a", to: "a.bin")
                try scratch.symlink("root/dangling", to: "nowhere")
                try scratch.symlink("root/secret", to: scratch.outside + "/secret.txt")
                try scratch.symlink("root/outdir", to: "../outside")
                try scratch.symlink("root/absdir", to: scratch.outside)
                try scratch.symlink("root/loop", to: ".")
                #expect(mkfifo(scratch.root + "/fifo", 0o644) == 0)
                let files = try RootDirectoryStore(rootDirectory: scratch.root).listFiles()
                #expect(files == [".hidden", "a.bin", "alias-a", "sub/c.bin", "sub/dir/b.bin", "z.bin"])
            }
        }

        @Test func staleUploadsAreRemovedAndLiveOnesKept() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/.volley-upload-dead1", "left by kill -9")
                try scratch.write("root/deep/er/.volley-upload-dead2", "left by a crash")
                try scratch.write("root/sub/.volley-upload-live", "being written")
                try scratch.write("root/sub/kept.bin", "a file")
                try scratch.mkdir("root/.volley-upload-dir")  // a directory of that name is not ours
                try scratch.symlink("root/outdir", to: scratch.outside)
                try scratch.write("outside/.volley-upload-other", "not below the root")
                // A live upload holds the lock on its temporary, as UploadTemporary does.
                let live = open(scratch.root + "/sub/.volley-upload-live", O_RDONLY | O_CLOEXEC)
                #expect(live >= 0)
                defer { close(live) }
                #expect(flock(live, LOCK_EX | LOCK_NB) == 0)

                let removed = try RootDirectoryStore(rootDirectory: scratch.root).removeStaleUploads()
                #expect(removed == [".volley-upload-dead1", "deep/er/.volley-upload-dead2"])
                #expect(!scratch.exists("root/.volley-upload-dead1") && !scratch.exists("root/deep/er/.volley-upload-dead2"))
                #expect(scratch.exists("root/sub/.volley-upload-live"), "a temporary still being written was removed")
                #expect(scratch.exists("root/sub/kept.bin") && scratch.exists("root/.volley-upload-dir"))
                #expect(scratch.exists("outside/.volley-upload-other"))
                #expect(try RootDirectoryStore(rootDirectory: scratch.root).removeStaleUploads() == [])
            }
        }

        @Test func uploadTemporariesAreNeverServed() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/sub/.volley-upload-1234", "partial")
                try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: scratch.root + "/sub/.volley-upload-1234")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(throws: TFTPError.fileNotFound("sub/.volley-upload-1234")) { _ = try store.openFile("sub/.volley-upload-1234") }
                let root = try ConfinedRoot(path: scratch.root)
                guard case .failure(let error) = root.openForReading("sub/.volley-upload-1234") else {
                    Issue.record("an upload temporary was opened for reading")
                    return
                }
                #expect(error.kind == .notFound)
            }
        }

        @Test func listFilesOfAnEmptyRootIsEmpty() throws {
            try Scratch.with { (scratch) throws in
                let files = try RootDirectoryStore(rootDirectory: scratch.root).listFiles()
                #expect(files == [])
            }
        }

        @Test func missingRootIsAnInvalidConfiguration() throws {
            try Scratch.with { (scratch) throws in
                let store = RootDirectoryStore(rootDirectory: scratch.base + "/nowhere")
                #expect(store.rootDirectory == scratch.base + "/nowhere")
                #expect(throws: TFTPError.invalidConfiguration("root directory \(scratch.base)/nowhere does not exist")) {
                    try store.listFiles()
                }
                #expect { try store.deleteFile("a") } throws: { error in
                    if case .invalidConfiguration = error as? TFTPError { return true }
                    return false
                }
            }
        }

        @Test func deleteFileRemovesTheFile() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/a.bin", "a")
                try scratch.write("root/sub/b.bin", "b")
                try scratch.write("root/keep.bin", "k")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                try store.deleteFile("a.bin")
                try store.deleteFile("/sub\\b.bin")
                #expect(!scratch.exists("root/a.bin"))
                #expect(!scratch.exists("root/sub/b.bin"))
                #expect(try store.listFiles() == ["keep.bin"])
            }
        }

        @Test func deleteFileOfAMissingFileIsFileNotFound() throws {
            try Scratch.with { (scratch) throws in
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(throws: TFTPError.fileNotFound("nope.bin")) { try store.deleteFile("nope.bin") }
                #expect(throws: TFTPError.fileNotFound("no/such/dir.bin")) { try store.deleteFile("no/such/dir.bin") }
            }
        }

        @Test(arguments: ["../x", "sub/../../x", "../outside/secret.txt", "outdir/secret.txt", "absdir/secret.txt", "..", ""])
        func deleteFileRefusesHostileNames(name: String) throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/sub")
                try scratch.symlink("root/outdir", to: "../outside")
                try scratch.symlink("root/absdir", to: scratch.outside)
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(throws: TFTPError.accessViolation(name)) { try store.deleteFile(name) }
                #expect(scratch.contents("outside/secret.txt") == bytes("SECRET"))
                #expect(scratch.contents("x") == bytes("escaped"))
            }
        }

        @Test func deleteFileRefusesDirectories() throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/sub")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect { try store.deleteFile("sub") } throws: { error in
                    if case .io(let message) = error as? TFTPError { return message.contains("unlinkat") }
                    return false
                }
                #expect(scratch.exists("root/sub"))
            }
        }

        @Test func deleteFileOfASymlinkRemovesOnlyTheLink() throws {
            try Scratch.with { (scratch) throws in
                try scratch.symlink("root/secret", to: scratch.outside + "/secret.txt")
                try RootDirectoryStore(rootDirectory: scratch.root).deleteFile("secret")
                #expect(!scratch.exists("root/secret"))
                #expect(scratch.contents("outside/secret.txt") == bytes("SECRET"))
            }
        }

        @Test func sha256OfAFile() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/abc.txt", "abc")
                try scratch.write("root/empty", "")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.sha256(ofFile: "abc.txt") == Self.abcDigest)
                #expect(try store.sha256(ofFile: "empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                #expect(throws: TFTPError.fileNotFound("missing")) { try store.sha256(ofFile: "missing") }
                try scratch.symlink("root/secret", to: "../outside/secret.txt")
                #expect(throws: TFTPError.accessViolation("secret")) { try store.sha256(ofFile: "secret") }
            }
        }

        @Test func checkFileChecksum() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/abc.txt", "abc")
                let store = RootDirectoryStore(rootDirectory: scratch.root)
                #expect(try store.checkFileChecksum("abc.txt", sha256: Self.abcDigest))
                #expect(try store.checkFileChecksum("/abc.txt", sha256: Self.abcDigest.uppercased()))
                #expect(try !store.checkFileChecksum("abc.txt", sha256: String(repeating: "0", count: 64)))
                #expect(try !store.checkFileChecksum("abc.txt", sha256: "nonsense"))
                #expect(try !store.checkFileChecksum("missing.txt", sha256: Self.abcDigest))
                #expect(throws: TFTPError.accessViolation("../x")) {
                    try store.checkFileChecksum("../x", sha256: Self.abcDigest)
                }
                try scratch.symlink("root/out", to: scratch.outside + "/secret.txt")
                #expect(throws: TFTPError.accessViolation("out")) {
                    try store.checkFileChecksum("out", sha256: Self.abcDigest)
                }
            }
        }

        @Test func errorDescriptionsNameTheProblem() {
            #expect(TFTPError.fileNotFound("a.bin").description == "file not found: a.bin")
            #expect(TFTPError.serverNotRunning.description == "server is not running")
            #expect(TFTPError.accessViolation("../x").description.contains("../x"))
        }
    }
}
