import Testing
@Test func placeholderTFTPProtocolTests() { #expect(true) }
