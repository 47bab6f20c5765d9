import Foundation
import Testing
import VolleyServer

/// Several clients at once.
@Suite("End to end: concurrent transfers")
struct ConcurrencyTests {
    @Test("8 transfers at once with mixed clients are all byte-exact", arguments: ServerMode.allCases)
    func eightAtOnce(mode: ServerMode) async throws {
        let directory = try TestDirectory("concurrent")
        defer { directory.remove() }
        let clients: [RealClient] = [.curl, .curlBlockSize65464, .curlNoOptions, .tftpHPA, .atftp, .busybox, .curlBlockSize1468, .atftp]
        var contents: [[UInt8]] = []
        for i in clients.indices {
            let content = SeededBytes.make(count: 3 * 1024 * 1024 + i * 1013, seed: 700 + UInt64(i))
            contents.append(content)
            try directory.write("root/image-\(i).bin", content)
        }
        try await withServer(root: directory.path("root"), configure: mode.apply(to:)) { server in
            let port = server.port
            let failures = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for (i, client) in clients.enumerated() {
                    group.addTask {
                        let (_, failure) = try await client.fetch(
                            port: port, name: "image-\(i).bin", output: directory.path("out-\(i)"), timeout: 90)
                        return (i, failure)
                    }
                }
                var failures: [Int: String?] = [:]
                for try await (i, failure) in group { failures[i] = failure }
                return failures
            }
            for i in clients.indices {
                #expect(failures[i] == .some(nil), "\(clients[i]): \(String(describing: failures[i]))")
                let difference = byteDifference(directory.contents("out-\(i)"), contents[i])
                #expect(difference == nil, "\(clients[i]) image-\(i): \(difference ?? "")")
            }
            let statistics = try await server.waitUntilIdle(timeout: 2)
            #expect(statistics.completedTransfers == clients.count)
        }
    }
}
