import BerthDistribution
import BerthOCI
import Foundation

/// A bearer token the registry's token service issues: a JWT (RFC 7519) signed with HMAC-SHA256,
/// carrying Docker's token claims (`access`: the granted scopes) and an expiry.
struct BearerToken: Codable, Equatable {
    /// One granted scope, in Docker's claim format.
    struct Access: Codable, Equatable {
        var type: String
        var name: String
        var actions: [String]
    }

    var iss: String
    var sub: String
    var aud: String
    var iat: Int64
    var nbf: Int64
    var exp: Int64
    var jti: String
    var access: [Access]

    /// The actions the token grants on a repository.
    func actions(on repository: String) -> Set<Scope.Action> {
        var actions: Set<Scope.Action> = []
        for entry in access where entry.type == "repository" && entry.name == repository {
            actions.formUnion(entry.actions.compactMap(Scope.Action.init(rawValue:)))
        }
        return actions
    }

    /// The subject as a user name; nil for anonymous tokens.
    var user: String? { sub.isEmpty ? nil : sub }

    func signed(with key: [UInt8]) -> String {
        let header = Self.base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Self.base64URL((try? encoder.encode(self)) ?? Data())
        let input = "\(header).\(payload)"
        return "\(input).\(Self.base64URL(Data(HMACSHA256.authenticationCode(for: Array(input.utf8), key: key))))"
    }

    /// Decodes a token, verifying its signature, audience and validity period; nil when any fails.
    static func verify(_ token: String, key: [UInt8], audience: String, now: Date = Date()) -> BearerToken? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = decodeBase64URL(parts[2]) else { return nil }
        let expected = HMACSHA256.authenticationCode(for: Array("\(parts[0]).\(parts[1])".utf8), key: key)
        guard constantTimeEqual(Array(signature), expected),
              let payload = decodeBase64URL(parts[1]),
              let claims = try? JSONDecoder().decode(BearerToken.self, from: payload)
        else { return nil }
        let seconds = Int64(now.timeIntervalSince1970)
        guard claims.aud == audience, claims.exp > seconds, claims.nbf <= seconds + 60 else { return nil }
        return claims
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// HMAC (RFC 2104) over SHA-256, built on BerthOCI's streaming SHA-256.
enum HMACSHA256 {
    static let blockSize = 64

    static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var block = key.count > blockSize ? hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = hash(block.map { $0 ^ 0x36 } + message)
        return hash(block.map { $0 ^ 0x5c } + inner)
    }

    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digester = SHA256Digester()
        digester.update(bytes)
        return decodeHex(digester.finalize().encoded)
    }

    private static func decodeHex(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        func value(_ digit: UInt8) -> UInt8 { digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }
}
