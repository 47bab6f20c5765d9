import Foundation
import Glibc
import Synchronization
import Testing
import TFTPProtocol
import VolleySystem

/// SIGTERM in single-port mode: transfers in flight keep the listening socket until they
/// end. It used to be closed at once; the next retransmission then sent on a closed (or
/// reused) descriptor and EBADF killed the process.
@Suite("systemd: draining in single-port mode", .serialized, .timeLimit(.minutes(2)))
struct SinglePortDrainTests {
    @Test("transfers in flight finish byte-exact after SIGTERM while retransmissions fire, then volley exits 0")
    func drainKeepsTheListenerForTransfersInFlight() async throws {
        let scratch = try TestDirectory("spd")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 12 * 512 + 7, seed: 31)
        try scratch.write("root/slow.bin", content)
        let service = try ServiceProcess(
            try VolleyBinaries.volley(),
            [
                "serve", "--root", scratch.path("root"), "--host", "127.0.0.1", "--port", "0", "--single-port",
                "--retransmit-timeout", "100", "--drain-timeout", "20000",
            ],
            timeout: 60)
        defer { service.killIfRunning() }
        let port = try await service.waitForServingPort()

        let holding = Holding()
        let results: [Result<[UInt8], any Error>] = await withTaskGroup(of: Result<[UInt8], any Error>.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    // Each client blocks (it sleeps holding its ACK): a thread of its own, not the task pool.
                    await withCheckedContinuation { (done: CheckedContinuation<Result<[UInt8], any Error>, Never>) in
                        Thread {
                            done.resume(
                                returning: Result {
                                    try RawTFTPClient().slowFetch("slow.bin", serverPort: port, ackDelay: 0.02, timeout: 15) { block in
                                        // Hold the ACK of block 3: the server retransmits it meanwhile, during the drain.
                                        if block == 3 {
                                            holding.count.withLock { $0 += 1 }
                                            // Until SIGTERM went out, then a little longer: retransmissions fire in the drain.
                                            let deadline = Date().addingTimeInterval(20)
                                            while !holding.signalled.withLock({ $0 }), Date() < deadline { usleep(10_000) }
                                            usleep(300_000)
                                        }
                                    }
                                })
                        }.start()
                    }
                }
            }
            // SIGTERM once every client holds block 3 (a loaded machine may start them late).
            let deadline = Date().addingTimeInterval(20)
            while holding.count.withLock({ $0 }) < 4, Date() < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            service.send(SIGTERM)
            holding.signalled.withLock { $0 = true }
            var all: [Result<[UInt8], any Error>] = []
            for await result in group { all.append(result) }
            return all
        }
        for result in results {
            switch result {
            case .success(let bytes): #expect(bytes == content, "a transfer in flight delivered wrong bytes")
            case .failure(let error): Issue.record("a transfer in flight failed during the drain: \(error)\nstderr:\n\(service.stderrText)")
            }
        }
        let exit = try await service.waitForExit(timeout: 10)
        #expect(exit.isCleanExit, "\(exit); stderr:\n\(service.stderrText)")
        #expect(!service.lines(containing: "transfer(s) finish for up to").isEmpty, "no drain; stderr:\n\(service.stderrText)")
    }
}

/// How many clients are holding their ACK.
private final class Holding: Sendable {
    let count = Mutex(0)
    let signalled = Mutex(false)
}
