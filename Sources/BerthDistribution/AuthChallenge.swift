/// A challenge from a `WWW-Authenticate` header (RFC 7235): a scheme and its parameters, as
/// registries send them: `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"`.
public struct AuthChallenge: Equatable, Sendable, CustomStringConvertible {
    public enum Scheme: Equatable, Sendable {
        case basic
        case bearer
        case other(String)
    }

    public var scheme: Scheme
    /// Parameter names are lowercased; values are unquoted.
    public var parameters: [String: String]

    public init(scheme: Scheme, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// The header value, parameters in a stable order (realm, service, scope, then the rest).
    public var description: String {
        let schemeName: String
        switch scheme {
        case .basic: schemeName = "Basic"
        case .bearer: schemeName = "Bearer"
        case .other(let name): schemeName = name
        }
        let order = ["realm", "service", "scope", "error"]
        let keys = order.filter { parameters[$0] != nil } + parameters.keys.filter { !order.contains($0) }.sorted()
        let rendered = keys.map { key -> String in
            let value = parameters[key]!.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\(key)=\"\(value)\""
        }
        return rendered.isEmpty ? schemeName : "\(schemeName) \(rendered.joined(separator: ","))"
    }

    /// Parses every challenge in a header value (several may be given, comma-separated).
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = ChallengeScanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        while let schemeToken = scanner.token() {
            var parameters: [String: String] = [:]
            // Parameters follow until the next bare token (a new scheme).
            while true {
                let mark = scanner.position
                scanner.skip(whitespaceAndCommas: true)
                guard let name = scanner.token() else { break }
                scanner.skip(whitespaceAndCommas: false)
                guard scanner.consume(UInt8(ascii: "=")) else {
                    scanner.position = mark
                    break
                }
                scanner.skip(whitespaceAndCommas: false)
                parameters[name.lowercased()] = scanner.quotedString() ?? scanner.token() ?? ""
            }
            let scheme: Scheme
            switch schemeToken.lowercased() {
            case "basic": scheme = .basic
            case "bearer": scheme = .bearer
            default: scheme = .other(schemeToken)
            }
            challenges.append(AuthChallenge(scheme: scheme, parameters: parameters))
            scanner.skip(whitespaceAndCommas: true)
        }
        return challenges
    }
}

private struct ChallengeScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip(whitespaceAndCommas: Bool) {
        while position < bytes.count,
              bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t")
                || (whitespaceAndCommas && bytes[position] == UInt8(ascii: ",")) {
            position += 1
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// An RFC 7230 token (also takes the `/`, `:` and `+` that unquoted realms sometimes carry).
    mutating func token() -> String? {
        skip(whitespaceAndCommas: true)
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: ",")
                || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"") {
                break
            }
            position += 1
        }
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    mutating func quotedString() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var value: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\\"), position < bytes.count {
                value.append(bytes[position])
                position += 1
            } else if byte == UInt8(ascii: "\"") {
                break
            } else {
                value.append(byte)
            }
        }
        return String(decoding: value, as: UTF8.self)
    }
}
