import Foundation
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// A client that starts over from the same address and port (a new process given the port,
/// firmware retrying with other options) gets an answer to its new request, not the old
/// transfer's OACK (found by the soak: a size probe's transfer answered a later client).
@Suite("Regressions: a new request from the port of a live transfer", .timeLimit(.minutes(1)))
struct SamePortRestartTests {
    @Test("the new request is a new transfer; the same request again is still a repeat", arguments: ServerMode.allCases)
    func newRequestFromTheSamePort(mode: ServerMode) async throws {
        let scratch = try TestDirectory("same-port")
        defer { scratch.remove() }
        let big = SeededBytes.make(count: 4 << 20, seed: 91)
        let small = SeededBytes.make(count: 5000, seed: 92)
        try scratch.write("root/big.bin", big)
        try scratch.write("root/small.bin", small)
        try await withServer(root: scratch.path("root"), configure: mode.apply) { server in
            try await offload {
                let client = try RawTFTPClient()
                // A size probe: the OACK is read, then the client walks away without an answer.
                client.sendReadRequest("big.bin", options: [("tsize", "0")], to: server.address)
                guard let first = client.receive(timeout: 5), case .optionAcknowledgement(let probe)? = first.packet else {
                    throw TestFailure("no OACK for the probe")
                }
                #expect(probe.contains { $0.name == "tsize" && $0.value == "\(4 << 20)" })
                // The same request again is a repeat: the same OACK, from the same transfer.
                client.sendReadRequest("big.bin", options: [("tsize", "0")], to: server.address)
                let again = client.receive(timeout: 5)
                #expect(again?.source == first.source, "a repeated request started another transfer")
                // From the same port, another request: it must be answered as itself.
                let fetched = try client.fetch("small.bin", options: [("blksize", "1468"), ("tsize", "0")], from: server.address)
                let options = Dictionary(uniqueKeysWithValues: (fetched.optionAcknowledgement ?? []).map { ($0.name, $0.value) })
                #expect(options == ["blksize": "1468", "tsize": "5000"], "\(mode): got the old transfer's OACK? \(options)")
                #expect(fetched.bytes == small)
            }
            let statistics = try await server.waitUntilIdle(timeout: 5)
            #expect(statistics.activeTransfers == 0)
            #expect(statistics.completedTransfers == 1)
        }
    }
}
