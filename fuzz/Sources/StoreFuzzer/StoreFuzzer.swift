// A name given to the store API (RootDirectoryStore, what the Jumpstarter driver and other library users call)
// through deleteFile, putFile, putFile again, deleteFile again, in a scratch root with symlinks out of it, a
// directory symlink, a FIFO and a secret file beside it (in /dev/shm when there is one: puts fsync, which is free on
// tmpfs; FUZZ_SCRATCH=DIR chooses another place). The input is the name's bytes (decoded as UTF-8, as a
// Swift caller's String would be). The root is put back as it was after every input that changed it, so each
// input starts from the same tree and a reproducer replays alone.
// Checks: nothing outside the root is ever created, changed or deleted (the directory holding the root and the one
// its symlinks point to are compared after every call); names the parser refuses throw accessViolation with the
// name; otherwise only accessViolation or an I/O error (never fileNotFound from a put, never invalidConfiguration);
// a written file reads back through the confined root with the content put, is a regular file inside the root, a
// second identical put is `.unchanged`, and after deleteFile it is gone (a second delete is fileNotFound); no
// upload temporary (`.volley-upload-*`) is ever left behind; no descriptor leaks.
@_spi(Fuzzing) import VolleyServer
import FileFixtures
import FuzzSupport
import Glibc

private let temporaryPrefix = Array(".volley-upload-".utf8)

private struct Fixture: Sendable {
    let base: String
    let rootPath: String
    let store: RootDirectoryStore
    let root: FileNameFuzzing.Root
    let entries: [FixtureEntry]

    init() {
        // Every put fsyncs the file and its directory: on a disk that is 10-20 ms a put, on tmpfs nothing.
        base = makeScratchDirectory(label: "store", in: memoryBackedTemporaryDirectory)
        rootPath = base + "/root"
        buildTree(
            at: base,
            [
                FixtureEntry("secret", .file(content: Array("the secret beside the root".utf8), mode: 0o644)),
                FixtureEntry("outside", .directory),
                FixtureEntry("outside/file", .file(content: Array("outside the root".utf8), mode: 0o644)),
                FixtureEntry("root", .directory),
            ])
        let plain: (String) -> FixtureNode = { .file(content: Array($0.utf8), mode: 0o644) }
        entries = [
            FixtureEntry("a.bin", plain("a")),
            FixtureEntry("private.bin", .file(content: Array("0600".utf8), mode: 0o600)),
            FixtureEntry("sub", .directory),
            FixtureEntry("sub/b.bin", plain("b")),
            FixtureEntry("sub/deeper", .directory),
            FixtureEntry("sub/escape", .symlink(target: Array("../../secret".utf8))),
            FixtureEntry("link-in", .symlink(target: Array("sub/b.bin".utf8))),
            FixtureEntry("link-out", .symlink(target: Array("../secret".utf8))),
            FixtureEntry("link-abs", .symlink(target: Array((base + "/secret").utf8))),
            FixtureEntry("link-outdir", .symlink(target: Array("../outside".utf8))),
            FixtureEntry("link-parent", .symlink(target: Array("..".utf8))),
            FixtureEntry("dangling-out", .symlink(target: Array("../created-outside".utf8))),
            FixtureEntry("dangling-in", .symlink(target: Array("sub/new".utf8))),
            FixtureEntry("dirlink", .symlink(target: Array("sub".utf8))),
            FixtureEntry("loop", .symlink(target: Array("loop".utf8))),
            FixtureEntry("fifo", .fifo),
            FixtureEntry("emptydir", .directory),
        ]
        buildTree(at: rootPath, entries)
        store = RootDirectoryStore(rootDirectory: rootPath)
        do {
            root = try FileNameFuzzing.Root(path: rootPath)
        } catch {
            fixtureFailure("opening the root: \(error)")
        }
    }

    /// Everything outside the root that must never change: the directory holding the root (the root's own times
    /// and size change with its content) and the directory outside.
    func outsideState() -> [[UInt8]: EntryState] {
        var state = snapshotDirectory(base, skippingTimesOf: [Array("root".utf8)])
        for (path, entry) in snapshotTree(base + "/outside") { state[Array("outside/".utf8) + path] = entry }
        return state
    }

    /// Puts the root back as built.
    func reset() {
        emptyDirectory(rootPath)
        buildTree(at: rootPath, entries)
    }
}

private let fixture = Fixture()
nonisolated(unsafe) private var outside: [[UInt8]: EntryState] = [:]
nonisolated(unsafe) private var pristine: Set<EntryState> = []
nonisolated(unsafe) private var resets = 0

@_cdecl("LLVMFuzzerInitialize")
public func storeFuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    outside = fixture.outsideState()
    pristine = entryStates(below: fixture.rootPath)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func storeFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    let raw = Array(UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size))
    let freeBefore = lowestFree()
    let name = String(decoding: raw, as: UTF8.self)
    let refused = !parses(Array(name.utf8))
    let store = fixture.store

    // 1. Delete whatever the name reaches in the untouched tree.
    do {
        try store.deleteFile(name)
        fuzzCheck(!refused, "deleteFile accepted refused name \(name.debugDescription)")
    } catch {
        checkError(error, name, refused: refused, "deleteFile", allowingNotFound: true)
    }
    checkOutside("deleteFile", name)

    // 2. Put it (content unlike any file of the fixture).
    let content = Array("put by StoreFuzzer: ".utf8) + raw.prefix(64)
    var written = false
    do {
        let result = try store.putFile(name, bytes: content)
        fuzzCheck(!refused, "putFile accepted refused name \(name.debugDescription)")
        fuzzCheck(result == .written, "putFile of new content gave \(result)")
        written = true
    } catch {
        checkError(error, name, refused: refused, "putFile", allowingNotFound: false)
    }
    checkOutside("putFile", name)

    if written {
        // 3. It reads back, from inside the root, and an identical put changes nothing.
        checkReadsBack(name, content)
        do {
            let again = try store.putFile(name, bytes: content)
            fuzzCheck(again == .unchanged, "second identical putFile of \(name.debugDescription) gave \(again)")
        } catch {
            fuzzCheck(false, "second identical putFile of \(name.debugDescription) threw \(error)")
        }
        checkOutside("second putFile", name)

        // 4. Delete removes it; the name is then gone.
        do {
            try store.deleteFile(name)
        } catch {
            fuzzCheck(false, "deleteFile of just written \(name.debugDescription) threw \(error)")
        }
        checkOutside("deleteFile after putFile", name)
        if case .failure(let failure) = fixture.root.openForReading(Array(name.utf8), requireWorldReadable: false) {
            fuzzCheck(failure.kind == .notFound, "deleted \(name.debugDescription) now fails with \(failure.kind): \(failure.logDetail)")
        } else {
            fuzzCheck(false, "deleted \(name.debugDescription) still opens")
        }
        do {
            try store.deleteFile(name)
            fuzzCheck(false, "second deleteFile of \(name.debugDescription) succeeded")
        } catch {
            fuzzCheck(error == .fileNotFound(name), "second deleteFile of \(name.debugDescription) threw \(error)")
        }
    }

    // No temporaries left; the next input starts from the built tree.
    // (The walks build no paths: a put of a name thousands of components deep leaves that many directories.)
    var now = Set<EntryState>()
    forEachEntry(below: fixture.rootPath) { leaf, status in
        now.insert(EntryState(status))
        // (A directory may carry the prefix: putFile refuses it only for the file's own name.)
        if status.st_mode & S_IFMT == S_IFREG {
            fuzzCheck(!leaf.starts(with: temporaryPrefix), "upload temporary \(describe(leaf)) left behind after \(name.debugDescription)")
        }
    }
    if now != pristine {
        fixture.reset()
        pristine = entryStates(below: fixture.rootPath)
        resets += 1
    }
    // libFuzzer opens files of its own between inputs, never during one.
    let free = lowestFree()
    fuzzCheck(free == freeBefore, "descriptor leak: lowest free descriptor \(free), was \(freeBefore) before the input")
    return 0
}

/// Whether the name rules accept `raw` (the model PathFuzzer checks the parser against).
private func parses(_ raw: [UInt8]) -> Bool {
    if case .success = FileNameFuzzing.parse(raw) { return true }
    return false
}

private func checkError(_ error: TFTPError, _ name: String, refused: Bool, _ call: String, allowingNotFound: Bool) {
    if refused {
        fuzzCheck(error == .accessViolation(name), "\(call) of refused name \(name.debugDescription) threw \(error)")
        return
    }
    switch error {
    case .accessViolation(let reported), .fileNotFound(let reported):
        fuzzCheck(reported == name, "\(call) of \(name.debugDescription) reported name \(reported.debugDescription)")
        if case .fileNotFound = error { fuzzCheck(allowingNotFound, "\(call) of \(name.debugDescription) threw \(error)") }
    case .io:
        break
    default:
        fuzzCheck(false, "\(call) of \(name.debugDescription) threw \(error)")
    }
}

private func checkOutside(_ call: String, _ name: String) {
    let state = fixture.outsideState()
    guard state != outside else { return }
    var changes: [String] = []
    for path in Set(state.keys).union(outside.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) where state[path] != outside[path] {
        changes.append("\(describe(path)): \(outside[path] == nil ? "created" : state[path] == nil ? "deleted" : "changed")")
    }
    fuzzCheck(false, "\(call) of \(name.debugDescription) changed the directory outside the root: \(changes.joined(separator: ", "))")
}

/// The file just written opens through the confined root, is a regular file inside the root, and holds `content`.
private func checkReadsBack(_ name: String, _ content: [UInt8]) {
    switch fixture.root.openForReading(Array(name.utf8), requireWorldReadable: true) {
    case .failure(let failure):
        fuzzCheck(false, "written \(name.debugDescription) does not open: \(failure.kind) \(failure.logDetail)")
    case .success(let opened):
        var status = stat()
        fuzzCheck(fstat(opened.descriptor.rawValue, &status) == 0, "fstat failed")
        let identity = FileIdentity(status)
        var inside = false
        forEachEntry(below: fixture.rootPath) { _, status in
            inside = inside || (FileIdentity(status) == identity && status.st_mode & S_IFMT == S_IFREG)
        }
        fuzzCheck(
            inside,
            "written \(name.debugDescription) (\(identity)) is not a regular file inside the root")
        var bytes = [UInt8](repeating: 0, count: content.count + 1)
        let count = bytes.withUnsafeMutableBytes { pread(opened.descriptor.rawValue, $0.baseAddress, $0.count, 0) }
        fuzzCheck(
            count == content.count && Array(bytes.prefix(count)) == content,
            "written \(name.debugDescription) reads back \(count) other bytes")
    }
}
