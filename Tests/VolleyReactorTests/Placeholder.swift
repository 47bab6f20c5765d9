import Testing
@Test func placeholderVolleyReactorTests() { #expect(true) }
