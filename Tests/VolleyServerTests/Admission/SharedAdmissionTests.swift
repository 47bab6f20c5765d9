import Testing
import TFTPProtocol
@testable import VolleyServer
import VolleySystem

/// The admission state the reactors share: limits count every reactor's transfers, and
/// clock readings from different reactors never refill a bucket by going backwards.
@Suite("SharedAdmission: one set of limits for all reactors")
struct SharedAdmissionTests {
    static let request = TFTPRequest(filename: "f", mode: "octet", options: [])

    static func limits(maximumTransfers: Int = 100, errorsPerClient: Int = 20) -> AdmissionLimits {
        var configuration = TFTPServerConfiguration()
        configuration.maximumTransfers = maximumTransfers
        configuration.errorRepliesPerSecondPerClient = errorsPerClient
        return AdmissionLimits(configuration)
    }

    @Test("max_transfers counts the transfers of every reactor")
    func transferLimit() {
        let admission = SharedAdmission(limits: Self.limits(maximumTransfers: 2), now: 1000)
        let a = SocketAddress(ip: "127.0.0.1", port: 1001)!
        let b = SocketAddress(ip: "127.0.0.1", port: 1002)!
        #expect(admission.claimTransfer(peer: a, client: "127.0.0.1", reactor: 0, overListener: false) == .admit)
        #expect(admission.claimTransfer(peer: b, client: "127.0.0.1", reactor: 1, overListener: true) == .admit)
        #expect(admission.activeTransfers == 2)
        #expect(admission.transfersOverListeners == 1)
        #expect(admission.reactor(serving: b) == 1)
        guard case .drop(.atCapacity, _) = admission.decide(Self.request, from: "127.0.0.2", now: 1000) else {
            Issue.record("a third transfer was admitted")
            return
        }
        // A request both reactors admitted at once: the claim, under the same lock as the count, decides.
        let c = SocketAddress(ip: "127.0.0.2", port: 1003)!
        guard case .drop(.atCapacity, _) = admission.claimTransfer(peer: c, client: "127.0.0.2", reactor: 0, overListener: false) else {
            Issue.record("a third transfer was claimed")
            return
        }
        #expect(admission.activeTransfers == 2)
        #expect(admission.transferEnded(peer: b, client: "127.0.0.1", reactor: 1, overListener: true) == 0)
        #expect(admission.reactor(serving: b) == nil)
        #expect(admission.decide(Self.request, from: "127.0.0.2", now: 1000) == .admit)
    }

    @Test("an older clock reading from another reactor does not refill the error bucket")
    func clockGoingBackwards() {
        let admission = SharedAdmission(limits: Self.limits(errorsPerClient: 5), now: 10_000)
        var sent = 0
        // Two reactors alternate, one reading the clock 1 ms behind the other.
        for i in 0..<100 where admission.mayReplyWithError(to: "192.0.2.1", now: i % 2 == 0 ? 10_001 : 10_000) {
            sent += 1
        }
        #expect(sent == 10, "burst is twice the rate: \(sent) error replies")
    }
}
