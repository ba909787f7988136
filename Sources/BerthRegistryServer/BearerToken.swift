import BerthDistribution
import BerthOCI
import Crypto
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
        let signature = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: key))
        return "\(input).\(Self.base64URL(Data(signature)))"
    }

    /// Decodes a token, verifying its signature, audience and validity period; nil when any fails.
    static func verify(_ token: String, key: [UInt8], audience: String, now: Date = Date()) -> BearerToken? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = decodeBase64URL(parts[2]) else { return nil }
        // Constant-time comparison of the signature.
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data("\(parts[0]).\(parts[1])".utf8),
                                                      using: SymmetricKey(data: key)),
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
}
