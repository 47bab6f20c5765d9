import Dispatch
import Foundation
import Glibc
import Testing
@testable import VolleyServer

extension FileStore {
    @Suite struct ConfinedRootTests {
        /// Opens `name` in `scratch`'s root and returns the content, or the error.
        static func open(_ name: String, in scratch: Scratch) throws -> Result<[UInt8], FileAccessError> {
            let root = try ConfinedRoot(path: scratch.root)
            return root.openForReading(name).map { file in
                let content = readAll(file.descriptor)
                #expect(file.size == UInt64(content.count))
                return content
            }
        }

        /// The error kind of opening `name`, or nil when it opened.
        static func failure(_ name: String, in scratch: Scratch) throws -> FileAccessError? {
            if case .failure(let error) = try open(name, in: scratch) { return error }
            return nil
        }

        @Test func opensAFileWithItsSizeAndBlockingCloexecDescriptor() throws {
            try Scratch.with { (scratch) throws in
                let content = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
                try scratch.write("root/pxelinux.0", bytes: content)
                let root = try ConfinedRoot(path: scratch.root)
                #expect(root.path == scratch.root)
                let file = try root.openForReading("pxelinux.0").get()
                #expect(file.size == 100_000)
                #expect(readAll(file.descriptor) == content)
                let statusFlags = fcntl(file.descriptor.rawValue, F_GETFL)
                #expect(statusFlags & O_NONBLOCK == 0)
                #expect(statusFlags & O_ACCMODE == O_RDONLY)
                #expect(fcntl(file.descriptor.rawValue, F_GETFD) & FD_CLOEXEC != 0)
            }
        }

        @Test func opensFilesInSubdirectories() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/sub/dir/b.bin", "nested")
                #expect(try Self.open("sub/dir/b.bin", in: scratch) == .success(bytes("nested")))
                #expect(try Self.open("./sub//dir/./b.bin", in: scratch) == .success(bytes("nested")))
            }
        }

        @Test func leadingSlashMeansTheRoot() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/pxelinux.0", "pxe")
                try scratch.write("root/boot/grub.cfg", "grub")
                #expect(try Self.open("/pxelinux.0", in: scratch) == .success(bytes("pxe")))
                #expect(try Self.open("//boot/grub.cfg", in: scratch) == .success(bytes("grub")))
            }
        }

        @Test func backslashIsASeparator() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/boot/x86/pxeboot.n12", "windows")
                #expect(try Self.open("boot\\x86\\pxeboot.n12", in: scratch) == .success(bytes("windows")))
                #expect(try Self.open("\\boot\\x86/pxeboot.n12", in: scratch) == .success(bytes("windows")))
            }
        }

        @Test(arguments: [
            "..", "../x", "sub/../../x", "sub/..", "sub/../a.bin", "/../x", "..\\x", "sub\\..\\..\\x",
            "a.bin/..", "./../x",
        ])
        func dotDotIsRefusedInEveryPosition(name: String) throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/a.bin", "a")
                try scratch.mkdir("root/sub")
                let error = try #require(try Self.failure(name, in: scratch))
                #expect(error.kind == .invalidName)
                #expect(error.clientMessage == "Illegal file name")
                #expect(error.tftpErrorCode == 2)
            }
        }

        @Test(arguments: ["", "/", "//", "\\", ".", "./", "a\u{0}b", "\u{0}", "sub/", "sub\\"])
        func malformedNamesAreRefused(name: String) throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/a", "a")
                try scratch.write("root/sub", "file named sub")
                let error = try #require(try Self.failure(name, in: scratch))
                #expect(error.kind == .invalidName)
            }
        }

        @Test func absolutePathIsRootRelative() throws {
            try Scratch.with { (scratch) throws in
                let missing = try #require(try Self.failure("/etc/passwd", in: scratch))
                #expect(missing.kind == .notFound)
                #expect(missing.clientMessage == "File not found")
                #expect(missing.tftpErrorCode == 1)
                try scratch.write("root/etc/passwd", "root-relative")
                #expect(try Self.open("/etc/passwd", in: scratch) == .success(bytes("root-relative")))
                let absoluteOutside = scratch.outside + "/secret.txt"
                #expect(try Self.failure(absoluteOutside, in: scratch)?.kind == .notFound)
            }
        }

        @Test func symlinksInsideTheRootAreFollowed() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/images/kernel-6.1", "kernel")
                try scratch.symlink("root/vmlinuz", to: "images/kernel-6.1")
                try scratch.mkdir("root/boot")
                try scratch.symlink("root/boot/vmlinuz", to: "../images/kernel-6.1")
                try scratch.symlink("root/current", to: "images")
                #expect(try Self.open("vmlinuz", in: scratch) == .success(bytes("kernel")))
                #expect(try Self.open("boot/vmlinuz", in: scratch) == .success(bytes("kernel")))
                #expect(try Self.open("current/kernel-6.1", in: scratch) == .success(bytes("kernel")))
            }
        }

        @Test func symlinksToOutsideAreRefused() throws {
            try Scratch.with { (scratch) throws in
                try scratch.symlink("root/absolute", to: scratch.outside + "/secret.txt")
                try scratch.symlink("root/relative", to: "../outside/secret.txt")
                try scratch.mkdir("root/sub")
                try scratch.symlink("root/sub/deeper", to: "../../outside/secret.txt")
                try scratch.symlink("root/etc-passwd", to: "/etc/passwd")
                for name in ["absolute", "relative", "sub/deeper", "etc-passwd"] {
                    let error = try #require(try Self.failure(name, in: scratch), "\(name) opened")
                    #expect(error.kind == .accessDenied, "\(name)")
                    #expect(error.clientMessage == "Access violation")
                }
            }
        }

        @Test func symlinkedDirectoriesToOutsideAreRefused() throws {
            try Scratch.with { (scratch) throws in
                try scratch.symlink("root/absdir", to: scratch.outside)
                try scratch.symlink("root/reldir", to: "../outside")
                try scratch.symlink("root/rootdir", to: "/")
                for name in ["absdir/secret.txt", "reldir/secret.txt", "rootdir/etc/passwd"] {
                    let error = try #require(try Self.failure(name, in: scratch), "\(name) opened")
                    #expect(error.kind == .accessDenied, "\(name)")
                }
            }
        }

        @Test func directoriesAreRefused() throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/sub")
                let error = try #require(try Self.failure("sub", in: scratch))
                #expect(error.kind == .notARegularFile)
                #expect(error.clientMessage == "Not a regular file")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func fifosAreRefusedWithoutBlocking() throws {
            try Scratch.with { (scratch) throws in
                let fifo = scratch.root + "/fifo"
                #expect(mkfifo(fifo, 0o644) == 0)
                let root = try ConfinedRoot(path: scratch.root)
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var result: Result<OpenFile, FileAccessError>?
                DispatchQueue.global().async {
                    result = root.openForReading("fifo")
                    done.signal()
                }
                if done.wait(timeout: .now() + 3) == .timedOut {
                    Issue.record("openForReading blocked on a FIFO")
                    // O_RDWR never blocks on a FIFO and counts as a writer, releasing the blocked reader.
                    let writer = Glibc.open(fifo, O_RDWR | O_NONBLOCK)
                    done.wait()
                    close(writer)
                }
                #expect(result.flatMap { try? $0.get() } == nil)
                if case .failure(let error) = result { #expect(error.kind == .notARegularFile) }
            }
        }

        @Test func aFileUsedAsADirectoryIsNotFound() throws {
            try Scratch.with { (scratch) throws in
                try scratch.write("root/file", "f")
                #expect(try Self.failure("file/x", in: scratch)?.kind == .notFound)
                #expect(try Self.failure("missing/x", in: scratch)?.kind == .notFound)
                #expect(try Self.failure("missing", in: scratch)?.kind == .notFound)
            }
        }

        @Test func overlongNamesAreIllegal() throws {
            try Scratch.with { (scratch) throws in
                let error = try #require(try Self.failure(String(repeating: "a", count: 5000), in: scratch))
                #expect(error.kind == .invalidName)
            }
        }

        @Test func messagesNeverRevealServerPaths() throws {
            try Scratch.with { (scratch) throws in
                try scratch.mkdir("root/sub")
                try scratch.write("root/file", "f")
                #expect(mkfifo(scratch.root + "/fifo", 0o644) == 0)
                try scratch.symlink("root/out", to: scratch.outside + "/secret.txt")
                try scratch.symlink("root/outdir", to: "../outside")
                let names = [
                    "missing", "../x", "sub", "fifo", "out", "outdir/secret.txt", "file/x", "", "/etc/passwd",
                    scratch.root + "/file/x", scratch.outside + "/secret.txt",
                ]
                for name in names {
                    let error = try #require(try Self.failure(name, in: scratch), "\(name) opened")
                    #expect(!error.clientMessage.contains(scratch.base), "\(name)")
                    #expect(!error.clientMessage.contains("/"), "\(name): \(error.clientMessage)")
                    if !name.hasPrefix(scratch.base) {
                        #expect(!error.logDetail.contains(scratch.base), "\(name): \(error.logDetail)")
                    }
                }
            }
        }

        @Test func missingRootOrFileRootIsAClearError() throws {
            try Scratch.with { (scratch) throws in
                #expect {
                    try ConfinedRoot(path: scratch.base + "/nowhere")
                } throws: { error in
                    let error = error as? FileAccessError
                    return error?.kind == .notFound && error?.logDetail.contains("does not exist") == true
                }
                try scratch.write("root/file", "f")
                #expect {
                    try ConfinedRoot(path: scratch.root + "/file")
                } throws: { error in
                    (error as? FileAccessError)?.logDetail.contains("is not a directory") == true
                }
            }
        }
    }
}
