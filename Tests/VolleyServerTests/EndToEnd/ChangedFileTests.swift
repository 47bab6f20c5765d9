import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// A file rewritten in place during a transfer ends it with ERROR 0, never with a
/// complete-looking mix of old and new bytes; and only world-readable files are served.
@Suite("End to end: files that change and files only root may read", .timeLimit(.minutes(3)))
struct ChangedFileTests {
    /// Rewrites `path` in place as `cp` does: truncate, then write the new content.
    private static func rewriteInPlace(_ path: String, with content: [UInt8]) {
        let fd = open(path, O_WRONLY | O_TRUNC)
        guard fd >= 0 else { return }
        var offset = 0
        while offset < content.count {
            let chunk = min(64 * 1024, content.count - offset)
            let wrote = content[offset..<offset + chunk].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard wrote > 0 else { break }
            offset += wrote
        }
        close(fd)
    }

    @Test("a file rewritten in place at many different moments never reaches the client mixed", arguments: ServerMode.allCases)
    func inPlaceRewriteIsNeverDeliveredMixed(mode: ServerMode) async throws {
        let scratch = try TestDirectory("rw")
        defer { scratch.remove() }
        let old = SeededBytes.make(count: 300 * 1468, seed: 11)
        let new = SeededBytes.make(count: 300 * 1468, seed: 12)
        var endedWithError = 0
        var deliveredWhole = 0
        try scratch.write("root/boot.img", old)
        try await withServer(root: scratch.path("root"), configure: mode.apply) { server in
            for round in 0..<12 {
                let path = try scratch.write("root/boot.img", old)
                let rewriteAt = UInt64(2 + round * 23)
                let outcome: Result<[UInt8], any Error> = try await offload {
                    let client = try RawTFTPClient()
                    do {
                        let result = try client.fetch(
                            "boot.img", options: [("blksize", "1468"), ("tsize", "0")], from: server.address, timeout: 5
                        ) { block in
                            if block == rewriteAt { Self.rewriteInPlace(path, with: new) }
                            usleep(300)
                        }
                        return .success(result.bytes)
                    } catch {
                        return .failure(error)
                    }
                }
                switch outcome {
                case .success(let bytes):
                    // Whole and unmixed: all old (the rewrite landed after the last read) or all new is impossible here.
                    #expect(bytes == old, "round \(round): delivered \(bytes.count) bytes that are not the old file")
                    deliveredWhole += 1
                case .failure(let failure):
                    #expect("\(failure)".contains("File changed during transfer"), "round \(round): \(failure)")
                    endedWithError += 1
                }
                _ = try await server.waitUntilIdle(timeout: 5)
            }
        }
        #expect(endedWithError > 0, "no round caught the rewrite (\(deliveredWhole) delivered whole)")
    }

    @Test(
        "a file truncated while windows go out from its mapping ends the transfer with ERROR 0; the server goes on",
        arguments: ServerMode.allCases)
    func truncationUnderTheMappingIsAnErrorNotACrash(mode: ServerMode) async throws {
        let scratch = try TestDirectory("tr")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 2 << 20, seed: 14)
        let path = try scratch.write("root/initrd.img", content)
        try await withServer(root: scratch.path("root"), configure: mode.apply) { server in
            let outcome: Result<[UInt8], any Error> = try await offload {
                do {
                    let result = try RawTFTPClient().fetch(
                        "initrd.img", options: [("blksize", "1468"), ("windowsize", "8")], from: server.address, timeout: 5
                    ) { block in
                        if block == 40 { #expect(truncate(path, 0) == 0) }
                    }
                    return .success(result.bytes)
                } catch {
                    return .failure(error)
                }
            }
            guard case .failure(let failure) = outcome else {
                Issue.record("a truncated file was delivered whole")
                return
            }
            #expect("\(failure)".contains("File changed during transfer"), "\(failure)")
            _ = try await server.waitUntilIdle(timeout: 5)
            // Still serving, from a fresh mapping of the new content.
            try scratch.write("root/initrd.img", content)
            let again = try await offload {
                try RawTFTPClient().fetch("initrd.img", options: [("blksize", "1468"), ("windowsize", "8")], from: server.address)
            }
            #expect(again.bytes == content)
        }
    }

    @Test("mode 0600 and 0000 files are refused with ERROR 2 by default and served with require_world_readable off")
    func onlyWorldReadableFilesAreServedByDefault() async throws {
        let scratch = try TestDirectory("wr")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 900, seed: 13)
        let secret = try scratch.write("root/secret.key", content)
        let locked = try scratch.write("root/locked.bin", content)
        try scratch.write("root/public.bin", content)
        #expect(chmod(secret, 0o600) == 0)
        #expect(chmod(locked, 0o000) == 0)
        let logs = LogCapture()
        try await withServer(root: scratch.path("root"), logs: logs) { server in
            for name in ["secret.key", "locked.bin"] {
                let refusal: (UInt16, String)? = try await offload {
                    let client = try RawTFTPClient()
                    client.sendReadRequest(name, to: server.address)
                    guard case .error(let code, let message)? = client.receive(timeout: 3)?.packet else { return nil }
                    return (code.rawValue, message)
                }
                #expect(refusal?.0 == 2, "\(name): \(String(describing: refusal))")
                #expect(refusal?.1 == "Access violation")
            }
            let served = try await offload { try RawTFTPClient().fetch("public.bin", from: server.address) }
            #expect(served.bytes == content)
        }
        #expect(logs.all.contains { $0.contains("\"secret.key\"") && $0.contains("not readable by everyone (mode 0600)") })
        if geteuid() == 0 {
            try await withServer(root: scratch.path("root"), configure: { $0.requireWorldReadable = false }) { server in
                let fetched = try await offload { try RawTFTPClient().fetch("secret.key", from: server.address) }
                #expect(fetched.bytes == content, "root may serve a 0600 file when asked to")
            }
        }
    }
}
