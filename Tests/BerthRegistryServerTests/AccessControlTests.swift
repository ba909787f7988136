import BerthDistribution
import BerthOCI
import Foundation
import Testing
@testable import BerthRegistryServer

/// Users made by the real `htpasswd -B` (bcrypt `$2y$`, as Docker's registry docs make them).
func makeHtpasswd(_ users: [String: String]) async throws -> String {
    var lines: [String] = []
    for (user, password) in users.sorted(by: { $0.key < $1.key }) {
        let (status, output) = try await runProcess("/usr/bin/htpasswd", ["-nbB", user, password])
        try #require(status == 0, "htpasswd failed: \(output)")
        lines.append(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let path = makeTemporaryDirectory() + "/htpasswd"
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func writeConfig(_ yaml: String) throws -> String {
    let path = makeTemporaryDirectory() + "/config.yml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct AccessControlTests {
    static let config = """
        auth:
          realm: Test Realm
          anonymous: []
        access:
          - repository: "pixelpotato/*"
            anonymous: [pull]
            users: { alice: [pull, push, delete], bob: [pull] }
          - repository: "private/**"
            users: { alice: ["*"] }
        """

    func policy() async throws -> AccessPolicy {
        let htpasswd = try await makeHtpasswd(["alice": "alice-secret", "bob": "bob-secret"])
        let configuration = try RegistryConfiguration.load(
            address: "127.0.0.1:0", root: makeTemporaryDirectory(), configFile: try writeConfig(Self.config),
            htpasswdFile: htpasswd, tlsCertificate: nil, tlsKey: nil)
        return configuration.access
    }

    @Test func basicAuthMatrix() async throws {
        try await withRegistry(access: try await policy()) { registry in
            // Anonymous: /v2/ challenges; pull allowed only where a rule grants it.
            let base = try await registry.request("GET", "/v2/")
            #expect(base.status == 401)
            #expect(base.header("WWW-Authenticate") == #"Basic realm="Test Realm""#)
            #expect(base.errorCode == "UNAUTHORIZED")

            try await registry.pushImage("pixelpotato/app", tag: "v1", user: "alice:alice-secret")
            try await registry.pushImage("private/deep/app", tag: "v1", user: "alice:alice-secret")
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/manifests/v1").status == 200)
            // Empty Basic credentials, as skopeo sends them after a challenge, count as anonymous.
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/manifests/v1", user: ":").status == 200)
            let anonymousPrivate = try await registry.request("GET", "/v2/private/deep/app/manifests/v1")
            #expect(anonymousPrivate.status == 401)
            #expect(anonymousPrivate.header("WWW-Authenticate") == #"Basic realm="Test Realm""#)
            #expect(try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/").status == 401)

            // Wrong password: 401 even where anonymous access would do.
            let wrong = try await registry.request("GET", "/v2/pixelpotato/app/manifests/v1", user: "alice:nope")
            #expect(wrong.status == 401)
            #expect(wrong.errorCode == "UNAUTHORIZED")
            #expect(try await registry.request("GET", "/v2/", user: "mallory:x").status == 401)

            // Authenticated.
            #expect(try await registry.request("GET", "/v2/", user: "bob:bob-secret").status == 200)
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/manifests/v1", user: "bob:bob-secret").status == 200)

            // A user without push: 403 DENIED.
            let denied = try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/", user: "bob:bob-secret")
            #expect(denied.status == 403)
            #expect(denied.errorCode == "DENIED")
            #expect(try await registry.request("DELETE", "/v2/pixelpotato/app/manifests/v1", user: "bob:bob-secret").status == 403)
            #expect(try await registry.request("GET", "/v2/private/deep/app/manifests/v1", user: "bob:bob-secret").status == 403)

            // The catalog lists what the caller may pull.
            let bobCatalog = try await registry.request("GET", "/v2/_catalog", user: "bob:bob-secret")
            #expect(try bobCatalog.json()["repositories"] as? [String] == ["pixelpotato/app"])
            let aliceCatalog = try await registry.request("GET", "/v2/_catalog", user: "alice:alice-secret")
            #expect(try aliceCatalog.json()["repositories"] as? [String] == ["pixelpotato/app", "private/deep/app"])
        }
    }

    @Test func globsMatchPerComponentOrAcross() {
        #expect(AccessPolicy.glob("pixelpotato/*", matches: "pixelpotato/app"))
        #expect(!AccessPolicy.glob("pixelpotato/*", matches: "pixelpotato/a/b"))
        #expect(AccessPolicy.glob("pixelpotato/**", matches: "pixelpotato/a/b"))
        #expect(!AccessPolicy.glob("pixelpotato/*", matches: "other/app"))
        #expect(AccessPolicy.glob("*", matches: "solo"))
        #expect(AccessPolicy.glob("team-?", matches: "team-a"))
    }

    @Test func configurationErrorsNameTheProblem() throws {
        let bad = try writeConfig("access:\n  - repository: a\n    users: { alice: [pull, fly] }\n")
        #expect(throws: RegistryServerError.self) {
            _ = try RegistryConfiguration.load(
                address: "127.0.0.1:5000", root: makeTemporaryDirectory(), configFile: bad, htpasswdFile: nil,
                tlsCertificate: nil, tlsKey: nil)
        }
        let htpasswd = makeTemporaryDirectory() + "/htpasswd"
        try "carol:{SHA}abcdef".write(toFile: htpasswd, atomically: true, encoding: .utf8)
        #expect(throws: RegistryServerError.invalidHtpasswd(
            path: htpasswd, line: 1, reason: "user carol has a non-bcrypt hash; only bcrypt is supported")) {
            _ = try Htpasswd(contentsOf: htpasswd)
        }
        #expect(throws: RegistryServerError.invalidAddress("localhost")) {
            _ = try RegistryConfiguration.parseAddress("localhost")
        }
    }

    @Test func tokenServiceScopes() async throws {
        let htpasswd = try await makeHtpasswd(["alice": "alice-secret", "bob": "bob-secret"])
        let root = makeTemporaryDirectory()
        // The realm is only announced in challenges; the test fetches tokens from the same server.
        let yaml = Self.config.replacingOccurrences(
            of: "  anonymous: []\n", with: "  anonymous: []\n  token:\n    realm: http://127.0.0.1/token\n    service: test-registry\n")
        let configuration = try RegistryConfiguration.load(
            address: "127.0.0.1:0", root: root, configFile: try writeConfig(yaml), htpasswdFile: htpasswd,
            tlsCertificate: nil, tlsKey: nil)
        try await withRegistry(access: configuration.access, root: root) { registry in
            let challenge = try await registry.request("GET", "/v2/pixelpotato/app/manifests/v1")
            #expect(challenge.status == 401)
            let header = try #require(challenge.header("WWW-Authenticate"))
            let parsed = try #require(AuthChallenge.parse(header).first)
            #expect(parsed.scheme == .bearer)
            #expect(parsed.realm == "http://127.0.0.1/token")
            #expect(parsed.service == "test-registry")
            #expect(parsed.scope == "repository:pixelpotato/app:pull")

            func token(_ scope: String, user: String?) async throws -> String {
                let result = try await registry.request("GET", "/token?service=test-registry&scope=\(scope)", user: user)
                try #require(result.status == 200, "token answered \(result.status): \(result.text)")
                let json = try result.json()
                #expect(json["expires_in"] as? Int == 300)
                #expect(json["issued_at"] is String)
                #expect(json["access_token"] as? String == json["token"] as? String)
                return try #require(json["token"] as? String)
            }
            #expect(try await registry.request("GET", "/token?service=test-registry", user: "alice:wrong").status == 401)

            let alicePush = try await token("repository:pixelpotato/app:pull,push", user: "alice:alice-secret")
            let bearer = ["Authorization": "Bearer \(alicePush)"]
            let blob = Data("token pushed".utf8)
            let digest = Digest.sha256(of: blob)
            let pushed = try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/?digest=\(digest)", headers: bearer, body: blob)
            #expect(pushed.status == 201)
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/blobs/\(digest)", headers: bearer).text == "token pushed")
            // The token is for one repository only.
            let elsewhere = try await registry.request("GET", "/v2/pixelpotato/other/blobs/\(digest)", headers: bearer)
            #expect(elsewhere.status == 401)
            #expect(elsewhere.header("WWW-Authenticate")?.contains(#"error="insufficient_scope""#) == true)

            // Bob asks for push but is granted pull only.
            let bobToken = try await token("repository:pixelpotato/app:pull,push", user: "bob:bob-secret")
            let bobBearer = ["Authorization": "Bearer \(bobToken)"]
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/blobs/\(digest)", headers: bobBearer).status == 200)
            #expect(try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/", headers: bobBearer).status == 401)

            // Anonymous tokens carry what anonymous clients may do.
            let anonymous = try await token("repository:pixelpotato/app:pull,push", user: nil)
            let anonymousBearer = ["Authorization": "Bearer \(anonymous)"]
            #expect(try await registry.request("GET", "/v2/pixelpotato/app/blobs/\(digest)", headers: anonymousBearer).status == 200)
            #expect(try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/", headers: anonymousBearer).status == 401)

            // The OAuth2 form containerd tries first: a POST of the password grant.
            func oauth(_ fields: String) async throws -> HTTPResult {
                try await registry.request("POST", "/token", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data(fields.utf8))
            }
            let posted = try await oauth(
                "grant_type=password&service=test-registry&scope=repository%3Apixelpotato%2Fapp%3Apull%2Cpush&client_id=containerd-client"
                    + "&username=alice&password=alice-secret")
            try #require(posted.status == 200, "POST /token answered \(posted.status): \(posted.text)")
            let oauthToken = try #require(try posted.json()["access_token"] as? String)
            let oauthUpload = try await registry.request("POST", "/v2/pixelpotato/app/blobs/uploads/", headers: ["Authorization": "Bearer \(oauthToken)"])
            #expect(oauthUpload.status == 202)
            #expect(try await oauth("grant_type=password&service=test-registry&username=alice&password=wrong").status == 401)
            #expect(try await oauth("grant_type=refresh_token&service=test-registry&refresh_token=x").status == 400)

            // A tampered token is refused.
            var tampered = Array(alicePush)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
            let forged = try await registry.request(
                "GET", "/v2/pixelpotato/app/blobs/\(digest)", headers: ["Authorization": "Bearer \(String(tampered))"])
            #expect(forged.status == 401)
        }
    }

    @Test func expiredTokensAreRefused() {
        let key = Array("secret".utf8)
        let token = BearerToken(
            iss: "i", sub: "alice", aud: "svc", iat: 1000, nbf: 1000, exp: 1300, jti: "j",
            access: [.init(type: "repository", name: "a", actions: ["pull"])]).signed(with: key)
        #expect(BearerToken.verify(token, key: key, audience: "svc", now: Date(timeIntervalSince1970: 1200))?.actions(on: "a") == [.pull])
        #expect(BearerToken.verify(token, key: key, audience: "svc", now: Date(timeIntervalSince1970: 1400)) == nil)
        #expect(BearerToken.verify(token, key: key, audience: "other", now: Date(timeIntervalSince1970: 1200)) == nil)
        #expect(BearerToken.verify(token, key: Array("wrong".utf8), audience: "svc", now: Date(timeIntervalSince1970: 1200)) == nil)
    }
}
