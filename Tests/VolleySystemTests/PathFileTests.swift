import Glibc
import SystemPackage
import Testing
import VolleySystem

/// The plain-path calls the command line uses for its own files, in a scratch directory.
@Suite struct PathFileTests {
    /// A fresh directory under /tmp, removed with everything in it by `body`'s end.
    private func inScratch(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/volley-paths-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let scratch = String(cString: try #require(made))
        defer { _ = system("rm -rf '\(scratch)'") }
        try body(scratch)
    }

    private func contents(_ path: String) throws -> [UInt8] {
        try FileSystem.readSmallFileBytes(path)
    }

    @Test func createWritesRenameReplacesAndUnlinkRemoves() throws {
        try inScratch { scratch in
            let part = scratch + "/file.part"
            let file = try FileSystem.create(part)
            try Array("new".utf8).withUnsafeBytes { try FileSystem.writeAll(file.descriptor, $0) }
            #expect(try FileSystem.status(of: file.descriptor).permissions & 0o600 == 0o600, "0666 less the umask")
            try file.close()
            let destination = scratch + "/file"
            let old = try FileSystem.create(destination)
            try Array("old content".utf8).withUnsafeBytes { try FileSystem.writeAll(old.descriptor, $0) }
            try old.close()
            try FileSystem.rename(part, to: destination)
            #expect(try contents(destination) == Array("new".utf8))
            #expect(throws: SystemError.self) { _ = try FileSystem.open(part) }
            // Created again over an existing file: emptied.
            try FileSystem.create(destination).close()
            #expect(try contents(destination).isEmpty)
            try FileSystem.unlink(destination)
            let gone = #expect(throws: SystemError.self) { _ = try FileSystem.open(destination) }
            #expect(gone?.errno == .noSuchFileOrDirectory)
        }
    }

    @Test func makeDirectoriesMakesParentsAndAcceptsWhatExists() throws {
        try inScratch { scratch in
            let deep = scratch + "/a/b//c/"
            try FileSystem.makeDirectories(deep)
            #expect(FileSystem.isDirectory(scratch + "/a/b/c"))
            try FileSystem.makeDirectories(deep)  // again: already there
            #expect(symlink(scratch + "/a", scratch + "/link") == 0)
            try FileSystem.makeDirectories(scratch + "/link/b/d")  // through a symlink to a directory
            #expect(FileSystem.isDirectory(scratch + "/a/b/d"))
            try FileSystem.create(scratch + "/file").close()
            let onFile = #expect(throws: SystemError.self) { try FileSystem.makeDirectories(scratch + "/file") }
            #expect(onFile?.errno == .fileExists)
            let below = #expect(throws: SystemError.self) { try FileSystem.makeDirectories(scratch + "/file/sub") }
            #expect(below?.errno == .notDirectory)
        }
    }

    @Test func currentDirectoryIsTheWorkingDirectory() throws {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let expected = String(cString: try #require(getcwd(&buffer, buffer.count)))
        #expect(try FileSystem.currentDirectory() == expected)
    }

    @Test func forEachEntryStopsWhenAsked() throws {
        try inScratch { scratch in
            for name in ["a", "b", "c", "d"] { try FileSystem.create(scratch + "/" + name).close() }
            let directory = try FileSystem.open(scratch, options: .directory)
            var seen: [String] = []
            try FileSystem.forEachEntry(of: directory.descriptor) { name, kind in
                #expect(kind == nil || kind == .regular)
                seen.append(name)
                return seen.count < 2
            }
            #expect(seen.count == 2)
            #expect(try FileSystem.entries(of: directory.descriptor).map(\.name).sorted() == ["a", "b", "c", "d"])
        }
    }

    @Test func fileReadChunksStreamsTheFileInPieces() async throws {
        var template = Array("/tmp/volley-chunks-XXXXXX".utf8CString)
        let number = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(number >= 0)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let content = [UInt8]((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let written = OwnedDescriptor(adopting: Descriptor(rawValue: number))
        try content.withUnsafeBytes { try FileSystem.writeAll(written.descriptor, $0) }
        try written.close()
        var chunks: [[UInt8]] = []
        for try await chunk in FileReadChunks(adopting: try FileSystem.open(path), chunkSize: 4096) { chunks.append(chunk) }
        #expect(chunks.map(\.count) == [4096, 4096, 1808])
        #expect(Array(chunks.joined()) == content)
    }

    @Test func standardDescriptorsAreTheUsualNumbers() {
        #expect([Descriptor.standardInput, .standardOutput, .standardError].map(\.rawValue) == [0, 1, 2])
        #expect("\(Descriptor(rawValue: 7))" == "7")
    }
}
