/// A list dockerd writes as `null` when it is empty: Go encodes a nil slice so, and a prune that
/// deleted nothing answers `"ContainersDeleted": null`.
@propertyWrapper
struct NullWhenEmpty<Element: Encodable & Sendable>: Encodable, Sendable {
    var wrappedValue: [Element]

    init(wrappedValue: [Element]) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if wrappedValue.isEmpty { try container.encodeNil() } else { try container.encode(wrappedValue) }
    }
}
