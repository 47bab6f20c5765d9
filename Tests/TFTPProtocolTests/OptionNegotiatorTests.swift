import Testing
import TFTPProtocol

@Suite("Option negotiation")
struct OptionNegotiatorTests {
    private func negotiate(
        _ pairs: [(String, String)],
        limits: NegotiationLimits = NegotiationLimits(),
        transferSize: UInt64 = 1000,
        cap: Int? = nil
    ) -> NegotiatedTransfer {
        OptionNegotiator.negotiate(
            pairs.map { TFTPOption(name: $0.0, value: $0.1) }, limits: limits, transferSize: transferSize, blockSizeCap: cap)
    }

    @Test(
        "blksize edges",
        arguments: [
            ("7", nil), ("8", 8), ("512", 512), ("1468", 1468), ("65464", 65464), ("65465", 65464), ("65535", 65464),
            ("99999999999999999999", 65464), ("abc", nil), ("", nil), ("-512", nil), ("+512", nil), (" 512", nil), ("512 ", nil),
            ("0", nil),
        ] as [(String, Int?)])
    func blockSize(_ value: String, _ expected: Int?) {
        let result = negotiate([("blksize", value)])
        if let expected {
            #expect(result.blockSize == expected)
            #expect(result.acknowledgedOptions == [TFTPOption(name: "blksize", value: String(expected))])
        } else {
            #expect(result.blockSize == 512)
            #expect(result.acknowledgedOptions.isEmpty)
            #expect(result.notes.count == 1)
        }
    }

    @Test func blockSizeLoweredNotesNameTheCap() {
        let server = negotiate([("blksize", "65535")])
        #expect(server.notes == ["blksize 65535 lowered to 65464 (server maximum)"])

        let mtu = negotiate([("blksize", "1500")], cap: 1468)
        #expect(mtu.blockSize == 1468)
        #expect(mtu.notes == ["blksize 1500 lowered to 1468 (interface MTU)"])

        let configured = negotiate([("blksize", "9000")], limits: NegotiationLimits(maximumBlockSize: 1024), cap: 1468)
        #expect(configured.blockSize == 1024)
        #expect(configured.notes == ["blksize 9000 lowered to 1024 (server maximum)"])

        let overflow = negotiate([("blksize", "99999999999999999999")], cap: 1432)
        #expect(overflow.notes == ["blksize 99999999999999999999 lowered to 1432 (interface MTU)"])
    }

    @Test func blockSizeBelowCapIsNeverRaised() {
        let result = negotiate([("blksize", "1024")], cap: 1468)
        #expect(result.blockSize == 1024)
        #expect(result.notes.isEmpty)
    }

    @Test func limitsClampIntoProtocolRange() {
        #expect(NegotiationLimits(maximumBlockSize: 4).maximumBlockSize == 8)
        #expect(NegotiationLimits(maximumBlockSize: 100_000).maximumBlockSize == 65464)
        #expect(NegotiationLimits(maximumWindowSize: 0).maximumWindowSize == 1)
        #expect(NegotiationLimits().maximumBlockSize == 65464)
        #expect(NegotiationLimits().maximumWindowSize == 64)
    }

    @Test(
        "timeout edges",
        arguments: [("0", nil), ("1", 1), ("6", 6), ("255", 255), ("256", nil), ("x", nil), ("99999999999999999999", nil)]
            as [(String, Int?)])
    func timeout(_ value: String, _ expected: Int?) {
        let result = negotiate([("timeout", value)])
        #expect(result.timeoutSeconds == expected)
        #expect(result.acknowledgedOptions == (expected.map { [TFTPOption(name: "timeout", value: String($0))] } ?? []))
    }

    @Test func timeoutZeroNote() {
        #expect(negotiate([("timeout", "0")]).notes == ["ignored timeout 0 (must be 1-255)"])
    }

    @Test(
        "windowsize edges",
        arguments: [("0", nil), ("1", 1), ("16", 16), ("64", 64), ("65", 64), ("99999999999999999999", 64), ("w", nil)] as [(String, Int?)])
    func windowSize(_ value: String, _ expected: Int?) {
        let result = negotiate([("windowsize", value)])
        #expect(result.windowSize == (expected ?? 1))
        #expect(result.acknowledgedOptions == (expected.map { [TFTPOption(name: "windowsize", value: String($0))] } ?? []))
    }

    @Test func windowSizeLoweredNote() {
        let result = negotiate([("windowsize", "65")])
        #expect(result.notes == ["windowsize 65 lowered to 64 (server maximum)"])
    }

    @Test func windowSizeIsCappedWhereStaleAcksStayUnambiguous() {
        // A 16-bit block number tells a stale ACK from a new one only for windows below 32768.
        let limits = NegotiationLimits(maximumWindowSize: 65535)
        #expect(limits.maximumWindowSize == 32767)
        let result = negotiate([("windowsize", "65535")], limits: limits)
        #expect(result.windowSize == 32767)
        #expect(result.acknowledgedOptions == [TFTPOption(name: "windowsize", value: "32767")])
        #expect(negotiate([("windowsize", "32767")], limits: limits).windowSize == 32767)
        #expect(negotiate([("windowsize", "32768")], limits: limits).windowSize == 32767)

        // Limits are public vars: a maximum set past the clamping init is capped as well.
        var raised = NegotiationLimits()
        raised.maximumWindowSize = 65535
        let late = negotiate([("windowsize", "65535")], limits: raised)
        #expect(late.acknowledgedOptions == [TFTPOption(name: "windowsize", value: "32767")])
        #expect(late.notes == ["windowsize 65535 lowered to 32767 (protocol maximum)"])
    }

    @Test func transferSizeIsAnsweredWithTheWireSize() {
        // A netascii file: 3 LFs in 10 bytes become 13 bytes on the wire; the caller passes the converted size.
        let file: [UInt8] = Array("ab\ncd\nef\ng".utf8)
        let wire = file.withUnsafeBytes { NetasciiEncoder.encodedLength(of: $0) }
        let result = negotiate([("tsize", "0")], transferSize: wire)
        #expect(wire == 13)
        #expect(result.transferSize == 13)
        #expect(result.acknowledgedOptions == [TFTPOption(name: "tsize", value: "13")])

        let huge = negotiate([("tsize", "12345")], transferSize: 5 << 30)
        #expect(huge.acknowledgedOptions == [TFTPOption(name: "tsize", value: "5368709120")])

        let bad = negotiate([("tsize", "zero")])
        #expect(bad.transferSize == nil)
        #expect(bad.acknowledgedOptions.isEmpty)
    }

    @Test func namesAreCaseInsensitiveAndCanonicalisedInOrder() {
        let result = negotiate([("TSize", "0"), ("BlkSize", "1432"), ("WINDOWSIZE", "8"), ("Timeout", "3")])
        #expect(
            result.acknowledgedOptions == [
                TFTPOption(name: "tsize", value: "1000"), TFTPOption(name: "blksize", value: "1432"),
                TFTPOption(name: "windowsize", value: "8"), TFTPOption(name: "timeout", value: "3"),
            ])
        #expect(result.blockSize == 1432 && result.windowSize == 8 && result.timeoutSeconds == 3 && result.transferSize == 1000)
        #expect(result.notes.isEmpty)
        #expect(result.sendsOptionAcknowledgement)
    }

    @Test func valuesAreCanonicalDecimal() {
        let result = negotiate([("blksize", "01024"), ("timeout", "006")])
        #expect(result.acknowledgedOptions == [TFTPOption(name: "blksize", value: "1024"), TFTPOption(name: "timeout", value: "6")])
    }

    @Test func repeatedOptionFirstWins() {
        let result = negotiate([("blksize", "1024"), ("BLKSIZE", "2048")])
        #expect(result.blockSize == 1024)
        #expect(result.acknowledgedOptions == [TFTPOption(name: "blksize", value: "1024")])
        #expect(result.notes == ["ignored repeated option blksize"])

        // The first occurrence decides even when it was rejected.
        let rejectedFirst = negotiate([("timeout", "0"), ("timeout", "5")])
        #expect(rejectedFirst.timeoutSeconds == nil)
        #expect(rejectedFirst.notes == ["ignored timeout 0 (must be 1-255)", "ignored repeated option timeout"])
    }

    @Test func unknownOptionsAreIgnoredWithANote() {
        let result = negotiate([("foo", "1"), ("utimeout", "500000"), ("tsize", "0")])
        #expect(result.acknowledgedOptions == [TFTPOption(name: "tsize", value: "1000")])
        #expect(result.notes == ["ignored unknown option foo", "ignored unknown option utimeout"])
    }

    @Test func noAcceptedOptionsMeansNoOptionAcknowledgement() {
        let result = negotiate([("blksize", "7"), ("timeout", "300"), ("windowsize", "0"), ("multicast", "")])
        #expect(result.acknowledgedOptions.isEmpty)
        #expect(!result.sendsOptionAcknowledgement)
        #expect(result.blockSize == 512 && result.windowSize == 1 && result.timeoutSeconds == nil && result.transferSize == nil)
        #expect(result.notes.count == 4)

        #expect(negotiate([]) == NegotiatedTransfer())
    }

    @Test func notesAreSafeToLog() {
        let result = negotiate([("blksize", "12\n34"), ("evil\u{1B}[31m", "1")])
        #expect(result.notes == ["ignored blksize 12?34 (not a number)", "ignored unknown option evil?[31m"])
    }
}
