import Testing
@Test func placeholderVolleyServerTests() { #expect(true) }
