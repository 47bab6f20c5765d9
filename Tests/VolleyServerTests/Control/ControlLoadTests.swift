import Foundation
import Glibc
import Synchronization
import Testing

/// The control plane under load: it never runs on the reactor thread, so uploads do not
/// disturb transfers (and the other way round).
@Suite("control plane: under load", .serialized, .timeLimit(.minutes(4)))
struct ControlLoadTests {
    @Test("20 uploads in parallel while 100 TFTP clients read: every byte right on both sides")
    func uploadsWhileServing() async throws {
        let fixture = try await ControlPlaneFixture(
            "cp-load", extraArguments: ["--request-rate-per-client", "0", "--max-transfers-per-client", "0"])
        defer { fixture.stop() }
        let served = SeededBytes.make(count: 256 * 1024 + 17, seed: 14)
        _ = try fixture.scratch.write("root/served.img", served)
        let uploads = (0..<20).map { SeededBytes.make(count: 300_000 + $0 * 1000, seed: UInt64(100 + $0)) }
        for (index, content) in uploads.enumerated() { _ = try fixture.scratch.write("up-\(index)", content) }
        let port = fixture.tftpPort

        // A thread per reader: all 100 are in flight at once, off Swift's small pool.
        let failures = Mutex(0)
        let done = DispatchGroup()
        for _ in 0..<100 {
            done.enter()
            Thread.detachNewThread {
                let ok =
                    (try? RawTFTPClient().fetch("served.img", options: [("blksize", "1428")], from: loopback(port: port), timeout: 10).bytes)
                    == served
                if !ok { failures.withLock { $0 += 1 } }
                done.leave()
            }
        }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await fixture.curl("PUT", "/v1/files/uploads/\(index).img", bodyFile: fixture.scratch.path("up-\(index)")).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        try await offload { done.wait() }
        let readFailures = failures.withLock { $0 }
        #expect(statuses.allSatisfy { $0 == 201 }, "\(statuses)")
        #expect(readFailures == 0, "\(readFailures) of 100 TFTP readers did not get the file")
        for (index, content) in uploads.enumerated() {
            #expect(fixture.scratch.contents("root/uploads/\(index).img") == content, "upload \(index) differs")
        }
    }
}
