import Testing

@testable import BerthTemplate

@Suite struct OrderedJSONTests {
    @Test func surrogatePairIsOneScalar() throws {
        #expect(try OrderedJSON.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
    }

    /// Found by fuzz/Sources/FuzzTemplate: a high surrogate followed by an escape that is not a low
    /// surrogate overflowed an unsigned subtraction and trapped.
    @Test func highSurrogateWithoutItsLowHalfIsReplaced() throws {
        #expect(try OrderedJSON.parse(Array(#""\ud800\u0041""#.utf8)) == .string("\u{FFFD}A"))
        #expect(try OrderedJSON.parse(Array(#""\ud800\ud800\udc00x""#.utf8)) == .string("\u{FFFD}\u{10000}x"))
        #expect(try OrderedJSON.parse(Array(#"["\udbff\\u0041"]"#.utf8)) == .array([.string("\u{FFFD}\\u0041")]))
    }

    /// Found with fuzz/Sources/FuzzTemplate: nesting deep enough overflowed the stack.
    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: OrderedJSON.ParseError.self) { try OrderedJSON.parse(Array(deep.utf8)) }
        let allowed = String(repeating: "{\"a\":[", count: 256) + String(repeating: "]}", count: 256)
        var value = try OrderedJSON.parse(Array(allowed.utf8))
        for _ in 0..<256 {
            guard case .array(let items) = value["a"], let inner = items.first else { break }
            value = inner
        }
        #expect(value == .object([("a", .array([]))]))
    }
}
