import TFTPProtocol
import Testing
@testable import volley_loadgen

@Suite struct OptionAcknowledgementCheckTests {
    let check = OptionAcknowledgementCheck(requestedBlockSize: 1468, requestedWindowSize: 16, requestedTransferSize: true, fileSize: 1000)

    private func options(_ pairs: [(String, String)]) -> [TFTPOption] { pairs.map { TFTPOption(name: $0.0, value: $0.1) } }

    @Test func acceptsValuesWithinTheRequest() {
        #expect(
            check.check(options([("BLKSIZE", "1400"), ("windowsize", "8"), ("tsize", "1000")])) == .init(blockSize: 1400, windowSize: 8))
    }

    @Test func refusesLargerValuesWrongSizeAndUnrequestedOptions() {
        #expect(check.check(options([("blksize", "1469"), ("tsize", "1000")])) == nil)
        #expect(check.check(options([("windowsize", "17"), ("tsize", "1000")])) == nil)
        #expect(check.check(options([("tsize", "999")])) == nil)
        #expect(check.check(options([("blksize", "512")])) == nil)  // tsize asked for, missing
        #expect(check.check(options([("tsize", "1000"), ("timeout", "1")])) == nil)
        #expect(check.check(options([("tsize", "1000"), ("tsize", "1000")])) == nil)
    }

    @Test func decodesTheDatagram() {
        let bytes = TFTPPacketEncoder.optionAcknowledgement(options([("blksize", "1024"), ("tsize", "1000")]))
        #expect(bytes.withUnsafeBytes { check.check($0) } == .init(blockSize: 1024, windowSize: 1))
    }
}
