// A client's file name through the server's name handling: RelativePath.parse, then ConfinedRoot.openForReading
// (openat2 with RESOLVE_BENEATH) in a scratch root built once per process, through the @_spi(Fuzzing) entry points.
// The input is the name's bytes, exactly as a read request carries them.
// Checks: the parse agrees with an independent model of the rules (NUL, trailing separator, `..` anywhere and empty
// names refused; `\` is a separator; `.` and empty components dropped) and an accepted name has no empty, `.`, `..`,
// NUL or separator in a component and joins without a leading `/`; the open agrees with an independent model of
// RESOLVE_BENEATH resolution over the known tree (symlinks inside followed, absolute or escaping ones refused, loops,
// long names, missing and non-directory components), with and without require_world_readable; whatever opens is a
// regular file whose device and inode belong to the expected file inside the root — never the secret beside the
// root, the directory outside it, a FIFO or a directory; refusals carry the expected kind, TFTP code and errno, and
// their texts never contain the scratch path or a line break; no descriptor leaks.
@_spi(Fuzzing) import VolleyServer
import FileFixtures
import FuzzSupport
import Glibc

private let slash = UInt8(ascii: "/")

/// The scratch tree: `<base>/root` is served; `<base>/secret` and `<base>/outside/` must stay unreachable.
private struct Fixture: Sendable {
    let base: String
    let root: FileNameFuzzing.Root
    /// The tree below the root as the model sees it.
    let nodes: [[UInt8]: FixtureNode]
    /// The identity of each regular file below the root, by its path there.
    let files: [[UInt8]: FileIdentity]
    /// Identities that must never be opened.
    let forbidden: [FileIdentity: String]

    init() {
        base = makeScratchDirectory(label: "paths")
        let rootPath = base + "/root"
        buildTree(
            at: base,
            [
                FixtureEntry("secret", .file(content: Array("the secret beside the root".utf8), mode: 0o644)),
                FixtureEntry("outside", .directory),
                FixtureEntry("outside/file", .file(content: Array("outside the root".utf8), mode: 0o644)),
                FixtureEntry("root", .directory),
            ])
        let plain: (String) -> FixtureNode = { .file(content: Array($0.utf8), mode: 0o644) }
        let entries: [FixtureEntry] = [
            FixtureEntry("a.bin", plain("a")),
            FixtureEntry("private.bin", .file(content: Array("0600".utf8), mode: 0o600)),
            FixtureEntry("%2e%2e", plain("percent-encoded dots are a plain name")),
            FixtureEntry(bytes: Array("caf".utf8) + [0xE9], plain("a Latin-1 name, not UTF-8")),
            FixtureEntry(".hidden", plain("dot file")),
            FixtureEntry("...", plain("three dots")),
            FixtureEntry("name with spaces", plain("spaces")),
            FixtureEntry("sub", .directory),
            FixtureEntry("sub/b.bin", plain("b")),
            FixtureEntry("sub/deeper", .directory),
            FixtureEntry("sub/deeper/c.bin", plain("c")),
            FixtureEntry("sub/up", .symlink(target: Array("../a.bin".utf8))),
            FixtureEntry("sub/escape", .symlink(target: Array("../../secret".utf8))),
            FixtureEntry("sub/deeper/back", .symlink(target: Array("../../sub/b.bin".utf8))),
            FixtureEntry("link-in", .symlink(target: Array("sub/b.bin".utf8))),
            FixtureEntry("link-out", .symlink(target: Array("../secret".utf8))),
            FixtureEntry("link-abs", .symlink(target: Array((base + "/secret").utf8))),
            FixtureEntry("link-abs-inside", .symlink(target: Array((rootPath + "/a.bin").utf8))),
            FixtureEntry("link-outdir", .symlink(target: Array("../outside".utf8))),
            FixtureEntry("link-parent", .symlink(target: Array("..".utf8))),
            FixtureEntry("dirlink", .symlink(target: Array("sub".utf8))),
            FixtureEntry("deeplink", .symlink(target: Array("sub/deeper".utf8))),
            FixtureEntry("self", .symlink(target: Array(".".utf8))),
            FixtureEntry("dangling", .symlink(target: Array("nowhere".utf8))),
            FixtureEntry("loop", .symlink(target: Array("loop".utf8))),
            FixtureEntry("loop-a", .symlink(target: Array("loop-b".utf8))),
            FixtureEntry("loop-b", .symlink(target: Array("loop-a".utf8))),
            FixtureEntry("link-private", .symlink(target: Array("private.bin".utf8))),
            FixtureEntry("link-fifo", .symlink(target: Array("fifo".utf8))),
            FixtureEntry("fifo", .fifo),
            FixtureEntry("emptydir", .directory),
        ]
        buildTree(at: rootPath, entries)
        var nodes: [[UInt8]: FixtureNode] = [:]
        for entry in entries { nodes[entry.path] = entry.node }
        self.nodes = nodes

        var files: [[UInt8]: FileIdentity] = [:]
        for (path, state) in snapshotTree(rootPath) where state.type == S_IFREG { files[path] = state.identity }
        self.files = files
        var forbidden: [FileIdentity: String] = [:]
        for (name, state) in snapshotTree(base) where !name.starts(with: Array("root".utf8)) {
            forbidden[state.identity] = String(decoding: name, as: UTF8.self)
        }
        self.forbidden = forbidden

        do {
            root = try FileNameFuzzing.Root(path: rootPath)
        } catch {
            fixtureFailure("opening the root: \(error)")
        }
    }
}

private let fixture = Fixture()

@_cdecl("LLVMFuzzerInitialize")
public func pathFuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    _ = fixture
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func pathFuzz(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    let raw = Array(UnsafeRawBufferPointer(start: size > 0 ? data : nil, count: size))
    let freeBefore = lowestFree()

    // The name rules, against the model.
    let expectedComponents = modelParse(raw)
    switch FileNameFuzzing.parse(raw) {
    case .success(let parsed):
        fuzzCheck(
            expectedComponents == parsed.components,
            "parse \(describe(raw)) gave \(parsed.components.map { describe($0) }), model \(String(describing: expectedComponents?.map { describe($0) }))"
        )
        checkParsed(parsed, raw)
    case .failure(let failure):
        fuzzCheck(
            expectedComponents == nil,
            "parse refused \(describe(raw)) (\(failure.logDetail)), model accepts \(expectedComponents!.map { describe($0) })")
        fuzzCheck(
            failure.kind == .invalidName && failure.tftpErrorCode == 2, "refused name with \(failure.kind), code \(failure.tftpErrorCode)")
        checkTexts(failure, raw)
    }

    // The open, against the model of RESOLVE_BENEATH over the fixture, with both world-readable policies.
    let expected = expectedComponents.map { components in
        // An upload temporary is refused by its name before any lookup: never served, whatever is there.
        components.last.map { $0.starts(with: uploadTemporaryPrefix) } == true
            ? .uploadTemporary : resolve(Array(components.joined(separator: [slash])), components)
    }
    for requireWorldReadable in [false, true] {
        // openat2(RESOLVE_BENEATH) fails with EAGAIN when any rename on the system races a lookup through `..`;
        // FileSystem.openBeneath retries, so an EAGAIN reaching here is a finding (the model never predicts it).
        let outcome = fixture.root.openForReading(raw, requireWorldReadable: requireWorldReadable)
        check(outcome, expected: expected, requireWorldReadable: requireWorldReadable, raw)
    }

    // libFuzzer opens files of its own between inputs, never during one.
    let free = lowestFree()
    fuzzCheck(free == freeBefore, "descriptor leak: lowest free descriptor \(free), was \(freeBefore) before the input")
    return 0
}

/// Separator `/` or `\`; NUL, a trailing separator, any `..` component or nothing left refuse the name.
private func modelParse(_ raw: [UInt8]) -> [[UInt8]]? {
    if raw.contains(0) { return nil }
    if let last = raw.last, last == slash || last == UInt8(ascii: "\\") { return nil }
    var components: [[UInt8]] = []
    var current: [UInt8] = []
    for byte in raw + [slash] {
        if byte == slash || byte == UInt8(ascii: "\\") {
            if current == [0x2E, 0x2E] { return nil }
            if !current.isEmpty && current != [0x2E] { components.append(current) }
            current = []
        } else {
            current.append(byte)
        }
    }
    return components.isEmpty ? nil : components
}

private func checkParsed(_ parsed: FileNameFuzzing.ParsedName, _ raw: [UInt8]) {
    fuzzCheck(!parsed.components.isEmpty, "accepted \(describe(raw)) with no component")
    for component in parsed.components {
        fuzzCheck(
            !component.isEmpty && component != [0x2E] && component != [0x2E, 0x2E],
            "accepted \(describe(raw)) with component \(describe(component))")
        fuzzCheck(
            !component.contains(0) && !component.contains(slash) && !component.contains(UInt8(ascii: "\\")),
            "component \(describe(component)) of \(describe(raw)) holds NUL or a separator")
    }
    fuzzCheck(
        parsed.bytes == Array(parsed.components.joined(separator: [slash])), "bytes \(describe(parsed.bytes)) are not the joined components"
    )
    fuzzCheck(parsed.bytes.first != slash, "accepted \(describe(raw)) joins with a leading /")
}

/// What opening a name should do.
private enum Expected: Equatable {
    /// The regular file at this path below the root.
    case file([UInt8])
    /// A directory or FIFO.
    case notRegular
    /// The call fails with this errno.
    case failure(Int32)
    /// The name of an upload in progress (`.volley-upload-…`): not found, without a lookup.
    case uploadTemporary
}

/// The prefix of the store's upload temporaries, which are never opened for reading.
private let uploadTemporaryPrefix = Array(".volley-upload-".utf8)

/// RESOLVE_BENEATH over the fixture: symlinks followed (at most 40), `..` or an absolute target that would leave the
/// root is EXDEV, a missing entry ENOENT, a non-directory in the middle ENOTDIR, a component over 255 bytes or a
/// path of 4096 bytes or more ENAMETOOLONG.
private func resolve(_ joined: [UInt8], _ components: [[UInt8]]) -> Expected {
    if joined.count >= 4096 { return .failure(ENAMETOOLONG) }
    var directory: [[UInt8]] = []
    var pending = components[...]
    var links = 0
    while let component = pending.popFirst() {
        if component.isEmpty || component == [0x2E] { continue }
        if component == [0x2E, 0x2E] {
            if directory.isEmpty { return .failure(EXDEV) }
            directory.removeLast()
            continue
        }
        if component.count > 255 { return .failure(ENAMETOOLONG) }
        let path = directory + [component]
        guard let node = fixture.nodes[Array(path.joined(separator: [slash]))] else { return .failure(ENOENT) }
        switch node.kind {
        case .directory:
            directory = path
        case .symlink:
            let target = node.bytes
            links += 1
            if links > 40 { return .failure(ELOOP) }
            if target.first == slash { return .failure(EXDEV) }
            pending = (target.split(separator: slash, omittingEmptySubsequences: false).map(Array.init) + pending)[...]
        case .file, .fifo:
            // Anything after a file, even `.` or an empty component (a trailing `/` in a link target), is ENOTDIR.
            if !pending.isEmpty { return .failure(ENOTDIR) }
            if node.kind == .fifo { return .notRegular }
            return .file(Array(path.joined(separator: [slash])))
        }
    }
    return .notRegular  // ended on a directory
}

private func check(
    _ outcome: Result<FileNameFuzzing.OpenedFile, FileNameFuzzing.Failure>, expected: Expected?,
    requireWorldReadable: Bool, _ raw: [UInt8]
) {
    let policy = requireWorldReadable ? " (require_world_readable)" : ""
    switch outcome {
    case .success(let opened):
        var status = stat()
        fuzzCheck(fstat(opened.descriptor.rawValue, &status) == 0, "fstat of the opened \(describe(raw)) failed")
        let identity = FileIdentity(status)
        fuzzCheck(
            fixture.forbidden[identity] == nil, "\(describe(raw)) opened \(fixture.forbidden[identity] ?? "") outside the root\(policy)")
        fuzzCheck(
            status.st_mode & S_IFMT == S_IFREG,
            "\(describe(raw)) opened a non-regular file (mode \(String(status.st_mode, radix: 8)))\(policy)")
        fuzzCheck(fixture.files.values.contains(identity), "\(describe(raw)) opened \(identity), no file of the root\(policy)")
        fuzzCheck(UInt64(status.st_size) == opened.size, "size \(opened.size) recorded, file has \(status.st_size)")
        guard case .file(let path) = expected else {
            fuzzCheck(false, "\(describe(raw)) opened \(identity), model expects \(String(describing: expected))\(policy)")
            return
        }
        fuzzCheck(fixture.files[path] == identity, "\(describe(raw)) opened \(identity), model expects \(describe(path))\(policy)")
        fuzzCheck(
            !requireWorldReadable || status.st_mode & S_IROTH != 0,
            "\(describe(raw)) opened mode \(String(status.st_mode, radix: 8))\(policy)")
    case .failure(let failure):
        checkTexts(failure, raw)
        guard let expected else {
            fuzzCheck(failure.kind == .invalidName, "refused name \(describe(raw)) failed with \(failure.kind)")
            return
        }
        switch expected {
        case .file(let path):
            let privateFile = fixture.nodes[path].map { $0.kind == .file && $0.mode & S_IROTH == 0 } ?? false
            fuzzCheck(
                requireWorldReadable && privateFile && failure.kind == .notWorldReadable,
                "\(describe(raw)) failed with \(failure.kind) (\(failure.logDetail)), model expects \(describe(path))\(policy)")
        case .uploadTemporary:
            fuzzCheck(
                failure.kind == .notFound && failure.logDetail == "an upload in progress is never served",
                "\(describe(raw)) failed with \(failure.kind) (\(failure.logDetail)), model expects an upload temporary refused")
        case .notRegular:
            fuzzCheck(
                failure.kind == .notARegularFile,
                "\(describe(raw)) failed with \(failure.kind) (\(failure.logDetail)), model expects not a regular file")
        case .failure(let code):
            let kind: FileNameFuzzing.FailureKind =
                switch code {
                case ENOENT, ENOTDIR: .notFound
                case EXDEV, ELOOP: .accessDenied
                default: .invalidName  // ENAMETOOLONG
                }
            fuzzCheck(
                failure.kind == kind && failure.logDetail.hasSuffix("(errno \(code))"),
                "\(describe(raw)) failed with \(failure.kind) (\(failure.logDetail)), model expects errno \(code)\(policy)")
        }
        let code: UInt16 =
            switch failure.kind {
            case .notFound: 1
            case .accessDenied, .notARegularFile, .invalidName, .notWorldReadable: 2
            case .resourcesExhausted, .other: 0
            }
        fuzzCheck(failure.tftpErrorCode == code, "\(failure.kind) sent as TFTP error \(failure.tftpErrorCode)")
    }
}

/// Error texts reach the client and the log: never the server's paths, never a line break.
private func checkTexts(_ failure: FileNameFuzzing.Failure, _ raw: [UInt8]) {
    for text in [failure.clientMessage, failure.logDetail] {
        fuzzCheck(!text.contains(fixture.base), "error text reveals the server path: \(text)")
        fuzzCheck(!text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }), "error text with a line break: \(text.debugDescription)")
    }
    fuzzCheck(
        ["File not found", "Access violation", "Not a regular file", "Illegal file name", "Server busy, try again", "Cannot open file"]
            .contains(failure.clientMessage), "unexpected client message \(failure.clientMessage)")
}
