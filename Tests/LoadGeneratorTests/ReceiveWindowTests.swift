import Testing
@testable import volley_loadgen

@Suite struct ReceiveWindowTests {
    @Test func lockstepAcknowledgesEveryBlock() {
        var window = ReceiveWindow(windowSize: 1)
        #expect(window.classify(wireBlock: 1) == .next(1))
        #expect(window.accept(isFinal: false) == 1)
        #expect(window.classify(wireBlock: 2) == .next(2))
        #expect(window.accept(isFinal: true) == 2)
    }

    @Test func windowAcknowledgesItsLastBlockOrTheFinalShortOne() {
        var window = ReceiveWindow(windowSize: 4)
        window.acknowledgeOptions()
        for block in 1...3 as ClosedRange<UInt64> {
            #expect(window.classify(wireBlock: UInt16(block)) == .next(block))
            #expect(window.accept(isFinal: false) == nil)
        }
        #expect(window.accept(isFinal: false) == 4)
        #expect(window.accept(isFinal: true) == 5)
        #expect(window.lastAcknowledged == 5)
    }

    @Test func gapIsAcknowledgedOnceWithTheLastInOrderBlock() {
        var window = ReceiveWindow(windowSize: 8)
        window.acknowledgeOptions()
        _ = window.accept(isFinal: false)  // 1
        _ = window.accept(isFinal: false)  // 2
        #expect(window.classify(wireBlock: 4) == .ahead)
        #expect(window.gap() == 2)
        #expect(window.classify(wireBlock: 5) == .ahead)
        #expect(window.gap() == nil)
        // The server restarts at 3: a fresh window of 8 counts from the gap ACK.
        #expect(window.classify(wireBlock: 3) == .next(3))
        for _ in 0..<7 { #expect(window.accept(isFinal: false) == nil) }
        #expect(window.accept(isFinal: false) == 10)
    }

    @Test func oldBlocksAreDuplicates() {
        var window = ReceiveWindow(windowSize: 1)
        _ = window.accept(isFinal: false)
        _ = window.accept(isFinal: false)
        #expect(window.classify(wireBlock: 1) == .old)
        #expect(window.classify(wireBlock: 2) == .old)
        #expect(window.classify(wireBlock: 3) == .next(3))
    }

    @Test func blockNumbersRollOverToZero() {
        var window = ReceiveWindow(windowSize: 16)
        for _ in 0..<65535 { _ = window.accept(isFinal: false) }
        #expect(window.nextBlock == 65536)
        #expect(window.classify(wireBlock: 0) == .next(65536))
        #expect(window.classify(wireBlock: 65535) == .old)
        #expect(window.classify(wireBlock: 1) == .ahead)
        _ = window.accept(isFinal: false)
        #expect(window.classify(wireBlock: 1) == .next(65537))
    }
}
