import Testing
@testable import VolleyServer

@Suite("ReactorLiveness: the heartbeat stops when any reactor is stuck")
struct ReactorLivenessTests {
    @Test("a reactor that stopped beating is reported once it is late; a late beat clears it")
    func stuckReactor() {
        let liveness = ReactorLiveness(reactors: 3, now: 1000)
        #expect(liveness.stuckReactors(longerThan: 4000, now: 4000).isEmpty)
        liveness.beat(0, now: 5000)
        liveness.beat(2, now: 5000)
        #expect(liveness.stuckReactors(longerThan: 4000, now: 5500) == [1])
        liveness.beat(1, now: 5600)
        #expect(liveness.stuckReactors(longerThan: 4000, now: 5600).isEmpty)
        // Clock readings of different reactors: an older one never moves a beat back.
        liveness.beat(1, now: 100)
        #expect(liveness.stuckReactors(longerThan: 4000, now: 9000).isEmpty)
    }
}
