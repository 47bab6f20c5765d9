import Foundation
import Testing
import TFTPProtocol
import VolleySystem
@testable import VolleyServer

/// A client whose first OACK was lost repeats its request and gets the OACK at once; the
/// retransmission timer must then wait its full patience from that OACK, not from the
/// first one. Otherwise a second OACK follows the first within moments, and atftp, which
/// has already answered with ACK 0, aborts with "unexpected OACK" (seen under 10 % loss).
@Suite("Regressions: one OACK per repeated request", .timeLimit(.minutes(1)))
struct RepeatedRequestTests {
    @Test(
        "after the OACK that answers a repeated request, the timer sends no other for its patience",
        arguments: [ServerMode.perTransferSockets, .singlePort])
    func noSecondOptionAcknowledgementRightBehindTheAnswer(mode: ServerMode) async throws {
        let scratch = try TestDirectory("repeat")
        defer { scratch.remove() }
        try scratch.write("root/initrd.img", SeededBytes.make(count: 200_000, seed: 93))
        try await withServer(root: scratch.path("root"), configure: mode.apply) { server in
            try await offload {
                let client = try RawTFTPClient()
                let options = [("blksize", "1428"), ("windowsize", "8"), ("tsize", "0")]
                client.sendReadRequest("initrd.img", options: options, to: server.address)
                guard case .optionAcknowledgement? = client.receive(timeout: 5)?.packet else {
                    throw TestFailure("no OACK for the request")
                }
                // "Lost": the client times out just before the server's 5 s patience ends and asks again.
                Thread.sleep(forTimeInterval: 4.6)
                client.sendReadRequest("initrd.img", options: options, to: server.address)
                guard case .optionAcknowledgement? = client.receive(timeout: 2)?.packet else {
                    throw TestFailure("the repeated request got no OACK")
                }
                // The client's ACK 0 is "lost" too: within the next 4 s only nothing, or a DATA
                // never comes either; a second OACK here is the bug.
                let next = client.receive(timeout: 4)
                #expect(next == nil, "\(mode): \(String(describing: next?.packet)) right after the answer to the repeated request")
            }
        }
    }
}
