/// Defaults for fields of persisted records, applied by the records' synthesized `Codable`.
///
/// A record written before a field existed lacks its key, and synthesized decoding ignores a
/// property's initial value: the record would fail to load. A hand-written `init(from:)` that lists
/// every field fixes that only until someone adds a field and forgets the decoder. Instead, a field
/// added to a persisted record is either optional (decoded as nil when missing) or wrapped:
///
/// ```swift
/// @Defaulted public var tty: Bool                     // false when the key is missing
/// @Defaulted public var mounts: [MountPoint]          // []
/// @Default<Defaults.Runtime> public var runtime: String // Defaults.Runtime.defaultValue
/// ```
///
/// Both encode exactly as the bare value does (the key is always written), so records stay
/// readable by the versions that wrote them. A key present with `null` decodes as the default too.
@propertyWrapper
public struct Defaulted<Value: DefaultInitializable & Codable & Hashable & Sendable>: Codable, Hashable, Sendable {
    public var wrappedValue: Value

    /// The type's empty value: false, 0, "", [], [:], or its `init()`.
    public init() {
        wrappedValue = Value()
    }

    public init(wrappedValue: Value) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

/// A field's default when it is not its type's empty value: `@Default<Provider>`.
@propertyWrapper
public struct Default<Provider: DefaultValueProvider>: Codable, Hashable, Sendable {
    public var wrappedValue: Provider.Value

    public init() {
        wrappedValue = Provider.defaultValue
    }

    public init(wrappedValue: Provider.Value) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Provider.Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

/// Names the default of a `@Default` field.
public protocol DefaultValueProvider {
    associatedtype Value: Codable & Hashable & Sendable
    static var defaultValue: Value { get }
}

/// A type whose `init()` is the value a missing field takes.
public protocol DefaultInitializable {
    init()
}

extension Bool: DefaultInitializable {}
extension Int: DefaultInitializable {}
extension Int32: DefaultInitializable {}
extension Int64: DefaultInitializable {}
extension UInt16: DefaultInitializable {}
extension String: DefaultInitializable {}
extension Array: DefaultInitializable {}
extension Dictionary: DefaultInitializable {}

// Synthesized decoding calls `decode(_:forKey:)` for every non-optional property; these overloads,
// more specific than the generic one, turn a missing key into the wrapper's default.
extension KeyedDecodingContainer {
    public func decode<Value>(_ type: Defaulted<Value>.Type, forKey key: Key) throws -> Defaulted<Value> {
        try decodeIfPresent(type, forKey: key) ?? Defaulted()
    }

    public func decode<Provider>(_ type: Default<Provider>.Type, forKey key: Key) throws -> Default<Provider> {
        try decodeIfPresent(type, forKey: key) ?? Default()
    }
}
