import Testing
@testable import volley_loadgen

@Suite struct ReportTests {
    @Test func nearestRankPercentiles() {
        let values = (1...100).map(Double.init)
        #expect(RunSummary.percentile(values, 50) == 50)
        #expect(RunSummary.percentile(values, 99) == 99)
        #expect(RunSummary.percentile([7], 90) == 7)
        #expect(RunSummary.percentile([], 50) == nil)
    }

    @Test func jsonKeepsKeyOrderAndEscapes() {
        let value: JSONValue = .object([("b", .integer(1)), ("a", .string("x\"\n")), ("n", .number(nil)), ("inf", .number(.infinity))])
        #expect(value.text == #"{"b":1,"a":"x\"\n","n":null,"inf":null}"#)
    }

    @Test func formatsFixedDecimals() {
        #expect(Report.format(1.5, 3) == "1.500")
        #expect(Report.format(nil, 1) == "-")
        #expect(Report.format(12.34, 1) == "12.3")
    }
}
