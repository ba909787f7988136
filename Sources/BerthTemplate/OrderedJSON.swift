/// A JSON value that keeps object key order, so Berth's JSON output has the field order
/// Docker's has, and so `--format` templates can walk any document.
public enum OrderedJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text exactly as written (keeps 64-bit integers exact).
    case number(String)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.elementsEqual(b) { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A JSON number with the integer's exact decimal text.
    public static func int<I: BinaryInteger>(_ value: I) -> OrderedJSON { .number(String(value)) }

    /// An array of strings; `null` for nil, as Go encodes a nil slice.
    public static func strings(_ values: [String]?) -> OrderedJSON {
        values.map { .array($0.map(OrderedJSON.string)) } ?? .null
    }

    /// The member named `key` of an object; nil for a missing member or a non-object.
    public subscript(key: String) -> OrderedJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    // MARK: Encoding (as Go's encoding/json does, HTML-safe escapes included)

    /// Compact encoding, like json.Marshal.
    public var compact: String {
        var out = ""
        write(to: &out, indent: nil, depth: 0)
        return out
    }

    /// Compact encoding as the Docker CLI's `json` template function writes it: a json.Encoder
    /// without HTML escaping (`<`, `>`, `&` stay as they are), from a Go that writes `\b` and `\f`.
    public var templateJSON: String {
        var out = ""
        write(to: &out, indent: nil, depth: 0, escapeHTML: false)
        return out
    }

    /// Indented encoding, like json.MarshalIndent(v, "", "    ") which `docker inspect` uses.
    public func indented(prefixDepth: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: "    ", depth: prefixDepth)
        return out
    }

    private func write(to out: inout String, indent: String?, depth: Int, escapeHTML: Bool = true) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out += "\n" + String(repeating: indent, count: level)
        }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): Self.writeString(text, to: &out, escapeHTML: escapeHTML)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "["
            for (position, item) in items.enumerated() {
                if position > 0 { out += "," }
                newline(depth + 1)
                item.write(to: &out, indent: indent, depth: depth + 1, escapeHTML: escapeHTML)
            }
            newline(depth)
            out += "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{"
            for (position, (key, value)) in members.enumerated() {
                if position > 0 { out += "," }
                newline(depth + 1)
                Self.writeString(key, to: &out, escapeHTML: escapeHTML)
                out += indent == nil ? ":" : ": "
                value.write(to: &out, indent: indent, depth: depth + 1, escapeHTML: escapeHTML)
            }
            newline(depth)
            out += "}"
        }
    }

    private static func writeString(_ text: String, to out: inout String, escapeHTML: Bool = true) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}" where !escapeHTML: out += "\\b"
            case "\u{0C}" where !escapeHTML: out += "\\f"
            case "<", ">", "&":
                if escapeHTML { out += "\\u" + hex4(scalar.value) } else { out.unicodeScalars.append(scalar) }
            case "\u{2028}", "\u{2029}":
                out += "\\u" + hex4(scalar.value)
            case _ where scalar.value < 0x20:
                out += "\\u" + hex4(scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: Parsing

    /// Malformed JSON text, with the byte offset where parsing stopped.
    public struct ParseError: Error, CustomStringConvertible {
        public var offset: Int
        public var description: String { "invalid JSON at byte \(offset)" }
    }

    /// Parses JSON text, keeping object member order.
    public static func parse(_ bytes: [UInt8]) throws -> OrderedJSON {
        var parser = Parser(bytes: bytes)
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw ParseError(offset: parser.position) }
        return value
    }

    private struct Parser {
        /// Deeper nesting is refused (as Foundation's decoder refuses it) instead of overflowing
        /// the stack: an image's config comes from outside.
        static let maximumDepth = 512

        let bytes: [UInt8]
        var position = 0
        var depth = 0

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[position]) { position += 1 }
        }

        mutating func value() throws -> OrderedJSON {
            skipWhitespace()
            guard position < bytes.count else { throw ParseError(offset: position) }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                try enter()
                defer { depth -= 1 }
                var members: [(String, OrderedJSON)] = []
                skipWhitespace()
                if consume(UInt8(ascii: "}")) { return .object(members) }
                repeat {
                    skipWhitespace()
                    guard case .string(let key) = try value() else { throw ParseError(offset: position) }
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    members.append((key, try value()))
                    skipWhitespace()
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"))
                return .object(members)
            case UInt8(ascii: "["):
                try enter()
                defer { depth -= 1 }
                var items: [OrderedJSON] = []
                skipWhitespace()
                if consume(UInt8(ascii: "]")) { return .array(items) }
                repeat {
                    items.append(try value())
                    skipWhitespace()
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"))
                return .array(items)
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                let start = position
                while position < bytes.count, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
                guard position > start else { throw ParseError(offset: position) }
                return .number(String(decoding: bytes[start..<position], as: UTF8.self))
            }
        }

        /// Steps into an object or array.
        mutating func enter() throws {
            guard depth < Self.maximumDepth else { throw ParseError(offset: position) }
            depth += 1
            position += 1
        }

        /// Consumes `byte` if it is next (after whitespace) and reports whether it was.
        mutating func consume(_ byte: UInt8) -> Bool {
            skipWhitespace()
            if position < bytes.count, bytes[position] == byte { position += 1; return true }
            return false
        }

        mutating func expect(_ byte: UInt8) throws {
            guard consume(byte) else { throw ParseError(offset: position) }
        }

        mutating func literal(_ word: String) throws {
            let expected = Array(word.utf8)
            guard position + expected.count <= bytes.count,
                  Array(bytes[position..<position + expected.count]) == expected else { throw ParseError(offset: position) }
            position += expected.count
        }

        mutating func string() throws -> String {
            position += 1
            var scalars = String.UnicodeScalarView()
            var run = position
            func flush() { scalars.append(contentsOf: String(decoding: bytes[run..<position], as: UTF8.self).unicodeScalars) }
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    flush()
                    position += 1
                    return String(scalars)
                }
                guard byte == UInt8(ascii: "\\") else { position += 1; continue }
                flush()
                position += 1
                guard position < bytes.count else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                       bytes[position + 1] == UInt8(ascii: "u") {
                        let next = position
                        position += 2
                        if let low = try? hex4(), (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            // A high surrogate without its low half becomes U+FFFD, as in Go; the
                            // escape after it is read on its own.
                            position = next
                        }
                    }
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default: scalars.append(Unicode.Scalar(escape))
                }
                run = position
            }
            throw ParseError(offset: position)
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count,
                  let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
            else { throw ParseError(offset: position) }
            position += 4
            return value
        }
    }
}
