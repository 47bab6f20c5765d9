import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// The admission step's limits: error replies and new requests per source, transfers per
/// client, what a silent (spoofed) source can get, and running out of descriptors.
@Suite("End to end: admission limits and reflection", .timeLimit(.minutes(2)))
struct AdmissionLimitTests {
    @Test("5,000 malformed datagrams from one source get a bounded number of ERROR replies, and others are still served")
    func errorRepliesAreRateLimited() async throws {
        let scratch = try TestDirectory("er")
        defer { scratch.remove() }
        let content = SeededBytes.make(count: 2000, seed: 41)
        try scratch.write("root/f.bin", content)
        let logs = LogCapture()
        try await withServer(root: scratch.path("root"), logs: logs) { server in
            let (replies, served): (Int, Bool) = try await offload {
                let flooder = try RawTFTPClient()
                for _ in 0..<5000 { flooder.send([0, 9, 1, 2, 3], to: server.address) }
                let replies = flooder.receiveAll(for: 1.0).count
                // 127.0.0.2 is another source on the loopback interface.
                let other = try RawTFTPClient(ip: "127.0.0.2")
                let fetched = try? other.fetch("f.bin", from: server.address)
                return (replies, fetched?.bytes == content)
            }
            // Burst 40 plus 20 a second for about a second.
            #expect(replies <= 80, "\(replies) ERROR replies to one flooding source")
            #expect(replies >= 20, "some errors must still be answered: \(replies)")
            #expect(served, "a client on another address was not served during the flood")
        }
        let warnings = logs.all.filter { $0.contains("error-reply limit reached") }
        #expect((1...3).contains(warnings.count), "the limit is logged at most once a second: \(warnings.count) lines")
    }

    @Test("new requests from one address beyond its rate are dropped")
    func requestRateIsLimitedPerClient() async throws {
        let scratch = try TestDirectory("rq")
        defer { scratch.remove() }
        try scratch.write("root/x", [1])
        try await withServer(
            root: scratch.path("root"),
            configure: {
                $0.requestsPerSecondPerClient = 5
                $0.errorRepliesPerSecondPerClient = 0
                $0.errorRepliesPerSecond = 0
            }
        ) { server in
            let replies: Int = try await offload {
                let client = try RawTFTPClient()
                for i in 0..<60 { client.sendReadRequest("missing-\(i)", to: server.address) }
                return client.receiveAll(for: 0.5).count
            }
            #expect(replies <= 14, "\(replies) of 60 requests answered at 5 a second (burst 10)")
            #expect(replies >= 8)
            let refused = server.statistics.refusedRequests
            #expect(refused == 60, "every request is counted as refused or dropped: \(refused)")
        }
    }

    @Test("a client address gets at most max_transfers_per_client transfers at once")
    func transfersPerClientAreLimited() async throws {
        let scratch = try TestDirectory("pc")
        defer { scratch.remove() }
        try scratch.write("root/x.bin", SeededBytes.make(count: 5000, seed: 42))
        try await withServer(root: scratch.path("root"), configure: { $0.maximumTransfersPerClient = 2 }) { server in
            let answered: Int = try await offload {
                let clients = try (0..<4).map { _ in try RawTFTPClient() }
                for client in clients { client.sendReadRequest("x.bin", to: server.address) }
                // Nobody ACKs: the first two transfers stay in flight, the others get nothing.
                return clients.filter { client in
                    if case .data(1, _)? = client.receive(timeout: 0.5)?.packet { return true }
                    return false
                }.count
            }
            #expect(answered == 2, "\(answered) of 4 requests from one address started a transfer")
            #expect(server.statistics.activeTransfers == 2)
        }
    }

    @Test("a source that never answers gets at most the retransmissions of its first answer, even asking for huge windows")
    func silentSourceGetsBoundedBytes() async throws {
        let scratch = try TestDirectory("ss")
        defer { scratch.remove() }
        try scratch.write("root/big.bin", SeededBytes.make(count: 4 << 20, seed: 43))
        try await withServer(
            root: scratch.path("root"),
            configure: {
                $0.retransmitTimeoutMilliseconds = 20
                $0.maximumRetransmitTimeoutMilliseconds = 40
            }
        ) { server in
            let (withOptions, withoutOptions): ([Int], [Int]) = try await offload {
                let silent = try RawTFTPClient()
                silent.sendReadRequest(
                    "big.bin", options: [("blksize", "65464"), ("windowsize", "64"), ("tsize", "0")], to: server.address)
                let first = silent.receiveAll(for: 1.0).map(\.bytes.count)
                let plain = try RawTFTPClient()
                plain.sendReadRequest("big.bin", to: server.address)
                return (first, plain.receiveAll(for: 1.0).map(\.bytes.count))
            }
            // One OACK and at most max_retries (5) resends; never a window of DATA.
            #expect(withOptions.count <= 6 && withOptions.allSatisfy { $0 < 100 }, "sent to a silent source: \(withOptions)")
            #expect(withoutOptions.count <= 6 && withoutOptions.allSatisfy { $0 <= 516 }, "sent to a silent source: \(withoutOptions)")
            #expect(withOptions.reduce(0, +) + withoutOptions.reduce(0, +) < 4000)
        }
    }
}
