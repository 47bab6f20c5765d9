import Foundation
import Glibc
import Testing
import VolleyReactor
import VolleySystem
import VolleyServer

/// Starting and stopping ``TFTPServer``.
@Suite("API: server lifecycle")
struct ServerLifecycleTests {
    @Test("start, serve, stop; start again after stop")
    func startStop() async throws {
        let directory = try TestDirectory("lifecycle")
        defer { directory.remove() }
        let content = SeededBytes.make(count: 777, seed: 11)
        try directory.write("root/a.bin", content)
        let server = TFTPServer(
            configuration: TFTPServerConfiguration(rootDirectory: directory.path("root"), host: "127.0.0.1", port: 0),
            logger: LogCapture().logger())
        #expect(!server.isRunning)
        for _ in 0..<2 {
            try server.start()
            #expect(server.isRunning)
            #expect(server.port != 0)
            #expect(server.host == "127.0.0.1")
            let address = server.address
            try await offload {
                let result = try RawTFTPClient().fetch("a.bin", from: address)
                #expect(byteDifference(result.bytes, content) == nil)
            }
            try server.stop()
            #expect(!server.isRunning)
            // After stop nothing answers on the old port.
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("a.bin", to: address)
                #expect(client.receive(timeout: 0.3) == nil)
            }
        }
    }

    @Test("stop when not running throws serverNotRunning")
    func stopWhenNotRunning() throws {
        let directory = try TestDirectory("notrunning")
        defer { directory.remove() }
        let server = TFTPServer(
            configuration: TFTPServerConfiguration(rootDirectory: directory.path, host: "127.0.0.1", port: 0),
            logger: LogCapture().logger())
        #expect(throws: TFTPError.serverNotRunning) { try server.stop() }
        try server.start()
        try server.stop()
        #expect(throws: TFTPError.serverNotRunning) { try server.stop() }
    }

    @Test("start twice throws serverAlreadyRunning and the first start keeps serving")
    func startTwice() async throws {
        let directory = try TestDirectory("twice")
        defer { directory.remove() }
        try directory.write("f", [1, 2, 3])
        let server = TFTPServer(
            configuration: TFTPServerConfiguration(rootDirectory: directory.path, host: "127.0.0.1", port: 0),
            logger: LogCapture().logger())
        try server.start()
        defer { try? server.stop() }
        let port = server.port
        #expect(throws: TFTPError.serverAlreadyRunning) { try server.start() }
        #expect(server.isRunning && server.port == port)
        let address = server.address
        let fetched = try await offload { try RawTFTPClient().fetch("f", from: address).bytes }
        #expect(fetched == [1, 2, 3])
    }

    @Test("port 0 binds a real port that is then taken")
    func portZero() async throws {
        let directory = try TestDirectory("port0")
        defer { directory.remove() }
        try await withServer(root: directory.path) { server in
            #expect((1...65535).contains(server.port))
            // The port is really bound: binding it again fails.
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            let result = SocketAddress(ip: "127.0.0.1", port: UInt16(server.port))!.withSockaddr { bind(fd, $0, $1) }
            #expect(result == -1 && errno == EADDRINUSE)
        }
    }

    @Test("a missing root, or a file as root, makes start throw invalidConfiguration")
    func missingRoot() throws {
        let directory = try TestDirectory("badroot")
        defer { directory.remove() }
        try directory.write("plain-file", [1])
        for root in [directory.path("does-not-exist"), directory.path("plain-file")] {
            let server = TFTPServer(
                configuration: TFTPServerConfiguration(rootDirectory: root, host: "127.0.0.1", port: 0),
                logger: LogCapture().logger())
            do {
                try server.start()
                Issue.record("start succeeded with root \(root)")
                try? server.stop()
            } catch {
                guard case .invalidConfiguration = error else {
                    Issue.record("wrong error \(error)")
                    continue
                }
            }
            #expect(!server.isRunning)
        }
    }

    @Test("an out-of-range setting makes start throw invalidConfiguration")
    func invalidSettings() throws {
        let directory = try TestDirectory("badsettings")
        defer { directory.remove() }
        var configuration = TFTPServerConfiguration(rootDirectory: directory.path, host: "127.0.0.1", port: 0)
        configuration.maximumBlockSize = 70000
        let server = TFTPServer(configuration: configuration, logger: LogCapture().logger())
        #expect {
            try server.start()
        } throws: { error in
            if case TFTPError.invalidConfiguration = error { true } else { false }
        }
        #expect(!server.isRunning)
    }
}
