/// A repository name as the distribution-spec allows it in `/v2/<name>/…`: path components of
/// lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
public struct RepositoryName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    /// Docker's and distribution's limit on a repository name.
    public static let maximumLength = 255

    /// Nil when `value` is not a valid name (`..`, uppercase, empty components, too long).
    public init?(_ value: String) {
        guard !value.isEmpty, value.utf8.count <= Self.maximumLength else { return nil }
        for component in value.split(separator: "/", omittingEmptySubsequences: false) {
            guard Self.isValidComponent(component.utf8) else { return nil }
        }
        self.value = value
    }

    public var description: String { value }

    public static func < (lhs: RepositoryName, rhs: RepositoryName) -> Bool { lhs.value < rhs.value }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isValidComponent(_ bytes: Substring.UTF8View) -> Bool {
        var previousWasAlphanumeric = false
        var separator: [UInt8] = []
        for byte in bytes {
            if isAlphanumeric(byte) {
                if !separator.isEmpty {
                    guard isValidSeparator(separator) else { return false }
                    separator.removeAll()
                }
                previousWasAlphanumeric = true
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") {
                guard previousWasAlphanumeric || !separator.isEmpty else { return false }
                separator.append(byte)
                previousWasAlphanumeric = false
            } else {
                return false
            }
        }
        return previousWasAlphanumeric && separator.isEmpty
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    private static func isValidSeparator(_ separator: [UInt8]) -> Bool {
        switch separator {
        case [UInt8(ascii: ".")], [UInt8(ascii: "_")], [UInt8(ascii: "_"), UInt8(ascii: "_")]: return true
        default: return separator.allSatisfy { $0 == UInt8(ascii: "-") }
        }
    }
}

/// A tag as the distribution-spec allows it: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
public enum TagName {
    public static func isValid(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func isWord(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
        }
        return isWord(first) && bytes.dropFirst().allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The order of a tag list: "lexical order (i.e. case-insensitive alphanumeric order)", as the
    /// distribution-spec requires; tags that differ only in case follow byte order.
    public static func precedes(_ first: String, _ second: String) -> Bool {
        (first.lowercased(), first) < (second.lowercased(), second)
    }
}
