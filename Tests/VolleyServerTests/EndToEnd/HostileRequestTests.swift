import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleyReactor
import VolleySystem
import VolleyServer

/// Errors and hostile requests, sent with a raw UDP client.
@Suite("End to end: errors and hostile requests")
struct HostileRequestTests {
    /// A root with one good file, and a sibling directory `outside` holding a secret.
    struct Fixture {
        let directory: TestDirectory
        let good = SeededBytes.make(count: 1500, seed: 4242)
        var root: String { directory.path("root") }

        init() throws {
            directory = try TestDirectory("hostile")
            try directory.write("root/good.bin", good)
            try directory.write("root/sub/inner.txt", Array("inner".utf8))
            try directory.write("outside/secret.txt", Array("SECRET-OUTSIDE".utf8))
            try directory.write("x", Array("ESCAPED".utf8))
        }
    }

    /// Sends one request and returns the first answer (nil when the server stayed silent for `wait` seconds).
    static func firstReply(_ bytes: [UInt8], to server: SocketAddress, wait: Double = 2) throws -> ReceivedDatagram? {
        let client = try RawTFTPClient()
        client.send(bytes, to: server)
        return client.receive(timeout: wait)
    }

    /// The server still serves a normal request completely.
    static func expectStillServing(_ server: SocketAddress, _ fixture: Fixture) throws {
        let client = try RawTFTPClient()
        let result = try client.fetch("good.bin", options: [("blksize", "1024")], from: server)
        #expect(byteDifference(result.bytes, fixture.good) == nil)
    }

    @Test("a missing file gives ERROR 1 without any server path in the message")
    func missingFile() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try await withServer(root: fixture.root) { server in
            let address = server.address
            let tempPath = fixture.directory.path
            try await offload {
                for name in ["nope.bin", "sub/nope.bin", "nodir/x.bin"] {
                    let reply = try Self.firstReply(
                        TFTPPacketEncoder.encode(.readRequest(TFTPRequest(filename: name, mode: "octet"))), to: address)
                    let error = try #require(reply?.error, "no ERROR for \(name)")
                    #expect(error.code == 1, "\(name): \(error)")
                    #expect(!error.message.contains(tempPath) && !error.message.contains("/"), "message leaks a path: \(error.message)")
                    #expect(!error.message.isEmpty)
                }
            }
        }
    }

    @Test("names escaping the root are refused and never return outside bytes")
    func escapes() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let outsideFile = fixture.directory.path("outside/secret.txt")
        try fixture.directory.symlink("root/abs-link", to: outsideFile)
        try fixture.directory.symlink("root/rel-link", to: "../outside/secret.txt")
        try fixture.directory.symlink("root/sub/deep-link", to: "../../outside/secret.txt")
        try fixture.directory.symlink("root/dir-link", to: fixture.directory.path("outside"))
        try fixture.directory.symlink("root/rel-dir-link", to: "../outside")
        let hostname = FileManager.default.contents(atPath: "/etc/hostname").map { [UInt8]($0) }
        let names = [
            "../x", "../outside/secret.txt", "sub/../../x", "sub/../../outside/secret.txt", "./../x", "sub//../../x",
            outsideFile, "/etc/hostname", "/etc/passwd", "//etc/passwd",
            "abs-link", "rel-link", "sub/deep-link", "dir-link/secret.txt", "rel-dir-link/secret.txt",
            "..\\x", "sub/..", "..",
        ]
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for name in names {
                    let client = try RawTFTPClient()
                    client.sendReadRequest(name, to: address)
                    let reply = try #require(client.receive(timeout: 2), "no answer for \(name)")
                    if case .data(_, let payload) = reply.packet {
                        Issue.record(
                            "\(name.debugDescription) was served \(payload.count) bytes: \(String(decoding: payload.prefix(40), as: UTF8.self))"
                        )
                        #expect(payload != Array("SECRET-OUTSIDE".utf8) && payload != Array("ESCAPED".utf8))
                        if let hostname { #expect(payload != hostname) }
                        continue
                    }
                    let error = try #require(reply.error, "\(name): not an ERROR: \(reply.bytes.prefix(8))")
                    #expect(error.code == 1 || error.code == 2, "\(name): \(error)")
                }
                try Self.expectStillServing(address, fixture)
            }
        }
    }

    @Test("a directory is refused with an ERROR")
    func directory() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for name in ["sub", "sub/", "."] {
                    let reply = try Self.firstReply(
                        TFTPPacketEncoder.encode(.readRequest(TFTPRequest(filename: name, mode: "octet"))), to: address)
                    let error = try #require(reply?.error, "\(name): no ERROR, got \(reply?.bytes.prefix(8) ?? [])")
                    #expect(error.code != 0 || !error.message.isEmpty, "\(name): \(error)")
                    #expect(!error.message.contains(fixture.directory.path))
                }
            }
        }
    }

    @Test("WRQ is refused with ERROR 2 and nothing is created or changed, even a world-writable file")
    func writeRequest() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let original = Array("world writable, must stay".utf8)
        let writable = try fixture.directory.write("root/writable.cfg", original)
        #expect(chmod(writable, 0o666) == 0)
        let before = fixture.directory.allEntries()
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for name in ["new.bin", "writable.cfg", "sub/new.bin"] {
                    let client = try RawTFTPClient()
                    client.send(.writeRequest(TFTPRequest(filename: name, mode: "octet")), to: address)
                    let reply = try #require(client.receive(timeout: 2), "no answer to WRQ \(name)")
                    #expect(reply.error?.code == 2, "WRQ \(name): \(reply.bytes.prefix(8))")
                    // A client that pushes data anyway must not get anything written either.
                    client.send(.data(block: 1, payload: Array("OVERWRITTEN".utf8)), to: address)
                    client.send(.data(block: 1, payload: Array("OVERWRITTEN".utf8)), to: reply.source)
                    _ = client.receiveAll(for: 0.2)
                }
            }
        }
        #expect(fixture.directory.allEntries() == before)
        #expect(fixture.directory.contents("root/writable.cfg") == original)
        #expect(!fixture.directory.exists("root/new.bin"))
    }

    /// Datagrams that are not valid requests.
    static let malformed: [(String, [UInt8])] = {
        var cases: [(String, [UInt8])] = [
            ("1 byte", [1]),
            ("2 bytes RRQ opcode", [0, 1]),
            ("3 bytes", [0, 1, 0x61]),
            ("RRQ without NULs", [0, 1] + Array("good.binoctet".utf8)),
            ("RRQ without mode NUL", [0, 1] + Array("good.bin".utf8) + [0] + Array("octet".utf8)),
            ("RRQ empty name", [0, 1, 0] + Array("octet".utf8) + [0]),
            ("RRQ odd option list", [0, 1] + Array("good.bin\0octet\0blksize\0".utf8)),
            ("RRQ option without value NUL", [0, 1] + Array("good.bin\0octet\0blksize\01024".utf8)),
            ("opcode 0", [0, 0, 0, 0]),
            ("opcode 9", [0, 9] + Array("good.bin\0octet\0".utf8)),
            ("opcode 0xffff", [0xff, 0xff, 1, 2, 3]),
            ("DATA to the listener", [0, 3, 0, 1] + Array("hello".utf8)),
            ("ACK to the listener", [0, 4, 0, 1]),
            ("OACK to the listener", [0, 6] + Array("blksize\01024\0".utf8)),
            ("all 0xff", [UInt8](repeating: 0xff, count: 600)),
            ("oversized request", [0, 1] + [UInt8](repeating: 0x61, count: 60_000) + Array("\0octet\0".utf8)),
        ]
        var many: [UInt8] = [0, 1] + Array("good.bin\0octet\0".utf8)
        for i in 0..<200 { many += Array("opt\(i)\0\(i)\0".utf8) }
        cases.append(("200 options", many))
        return cases
    }()

    @Test("malformed datagrams get ERROR 4 or silence, and the server keeps serving")
    func malformedPackets() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for (label, bytes) in Self.malformed {
                    let client = try RawTFTPClient()
                    client.send(bytes, to: address)
                    let replies = client.receiveAll(for: 0.15)
                    for reply in replies {
                        #expect(reply.error?.code == 4, "\(label): answered \(reply.bytes.prefix(12))")
                    }
                    #expect(replies.count <= 1, "\(label): \(replies.count) replies")
                }
                try Self.expectStillServing(address, fixture)
            }
        }
    }

    @Test("ERROR packets sent to the listener, even truncated ones, are never answered")
    func errorsAreNotAnswered() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for bytes: [UInt8] in [[0, 5], [0, 5, 0], [0, 5, 0, 1], [0, 5, 0, 1, 0x61], [0, 5, 0, 8, 0]] {
                    let client = try RawTFTPClient()
                    client.send(bytes, to: address)
                    #expect(client.receiveAll(for: 0.15).isEmpty, "answered ERROR packet \(bytes)")
                }
                try Self.expectStillServing(address, fixture)
            }
        }
    }

    @Test("huge and nonsense option values never produce out-of-range parameters")
    func hugeNumbers() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let optionSets: [[(String, String)]] = [
            [("blksize", "99999999999999999999999999999")],
            [("blksize", "18446744073709551616")],
            [("blksize", "65465")],
            [("blksize", "4294967808")],
            [("windowsize", "18446744073709551615")],
            [("windowsize", "65536")],
            [("timeout", "99999999999999999999")],
            [("tsize", "99999999999999999999999")],
            [("blksize", "-1"), ("windowsize", "0"), ("timeout", "0")],
            [("blksize", "8"), ("tsize", "0"), ("windowsize", "1024"), ("timeout", "255")],
            [("blksize", String(repeating: "9", count: 400))],
        ]
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for options in optionSets {
                    let client = try RawTFTPClient()
                    do {
                        let result = try client.fetch("good.bin", options: options, from: address)
                        #expect(byteDifference(result.bytes, fixture.good) == nil, "\(options)")
                        for option in result.optionAcknowledgement ?? [] {
                            let value = UInt64(option.value)
                            switch option.name.lowercased() {
                            case "blksize": #expect(value.map { (8...65464).contains($0) } == true, "\(options) → \(option)")
                            case "windowsize": #expect(value.map { (1...64).contains($0) } == true, "\(options) → \(option)")
                            case "timeout": #expect(value.map { (1...255).contains($0) } == true, "\(options) → \(option)")
                            case "tsize": #expect(value == UInt64(fixture.good.count), "\(options) → \(option)")
                            default: Issue.record("unrequested option \(option)")
                            }
                        }
                    } catch let error as ServerErrorReply {
                        #expect(error.code == 4 || error.code == 8, "\(options): \(error)")
                    }
                }
                try Self.expectStillServing(address, fixture)
            }
        }
    }

    @Test("mode mail (and unknown modes) get ERROR 4")
    func mailMode() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try await withServer(root: fixture.root) { server in
            let address = server.address
            try await offload {
                for mode in ["mail", "MAIL", "binary", "octet2"] {
                    let reply = try Self.firstReply(
                        TFTPPacketEncoder.encode(.readRequest(TFTPRequest(filename: "good.bin", mode: mode))), to: address)
                    #expect(reply?.error?.code == 4, "mode \(mode): \(reply?.bytes.prefix(8) ?? [])")
                }
                // Mode names are case-insensitive.
                let client = try RawTFTPClient()
                let result = try client.fetch("good.bin", mode: "OcTeT", from: address)
                #expect(byteDifference(result.bytes, fixture.good) == nil)
            }
        }
    }
}
