import Foundation
import Testing

@testable import BerthDistribution

@Suite struct RepositoryNameTests {
    @Test(arguments: ["busybox", "library/busybox", "a/b/c", "pixelpotato/python-helloworld", "a.b", "a_b", "a__b",
                      "a---b", "0", "a1/b2.c3_d4__e5-f6"])
    func accepts(name: String) {
        #expect(RepositoryName(name)?.value == name)
    }

    @Test(arguments: ["", "..", "a/../b", "../a", "A", "a//b", "a/", "/a", "-a", "a-", "a._b", "a___b", "a.-b",
                      "a:b", "a b", String(repeating: "a", count: 256)])
    func rejects(name: String) {
        #expect(RepositoryName(name) == nil)
    }

    @Test func tags() {
        #expect(TagName.isValid("v1.0.0"))
        #expect(TagName.isValid("_x"))
        #expect(TagName.isValid(String(repeating: "a", count: 128)))
        #expect(!TagName.isValid(String(repeating: "a", count: 129)))
        #expect(!TagName.isValid(".x"))
        #expect(!TagName.isValid("-x"))
        #expect(!TagName.isValid("a/b"))
        #expect(!TagName.isValid(""))
    }

    @Test func tagListOrderIgnoresCaseAndThenFollowsBytes() {
        #expect(["v2", "B", "a", "V1", "b", "10", "9"].sorted(by: TagName.precedes) == ["10", "9", "a", "B", "b", "V1", "v2"])
    }
}

@Suite struct AuthChallengeTests {
    @Test func parsesDockerHubsBearerChallenge() {
        let header = #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
        let challenges = AuthChallenge.parse(header)
        #expect(challenges.count == 1)
        #expect(challenges.first?.scheme == .bearer)
        #expect(challenges.first?.realm == "https://auth.docker.io/token")
        #expect(challenges.first?.service == "registry.docker.io")
        #expect(challenges.first?.scope == "repository:library/busybox:pull")
    }

    @Test func parsesSeveralChallengesAndEscapes() {
        let challenges = AuthChallenge.parse(#"Basic realm="a \"quoted\" realm", Bearer realm=http://x/token"#)
        #expect(challenges.map(\.scheme) == [.basic, .bearer])
        #expect(challenges[0].realm == #"a "quoted" realm"#)
        #expect(challenges[1].realm == "http://x/token")
    }

    @Test func roundTrips() {
        let challenge = AuthChallenge(scheme: .bearer, parameters: [
            "realm": "http://127.0.0.1:5000/token", "service": "berth", "scope": "repository:a/b:pull,push",
        ])
        #expect(challenge.description == #"Bearer realm="http://127.0.0.1:5000/token",service="berth",scope="repository:a/b:pull,push""#)
        #expect(AuthChallenge.parse(challenge.description) == [challenge])
    }
}

@Suite struct ScopeTests {
    @Test func parsesAndFormats() {
        let scope = Scope(parsing: "repository:pixelpotato/python-helloworld:push,pull")
        #expect(scope == Scope.repository("pixelpotato/python-helloworld", .pull, .push))
        #expect(scope?.description == "repository:pixelpotato/python-helloworld:pull,push")
        #expect(Scope.parseList("repository:a:pull registry:catalog:*").map(\.description)
            == ["repository:a:pull", "registry:catalog:*"])
        #expect(Scope(parsing: "nonsense") == nil)
    }
}

@Suite struct ErrorBodyTests {
    @Test func encodesTheSpecsShape() throws {
        let body = RegistryErrorBody(.digestInvalid, detail: .object(["digest": .string("sha256:00")]))
        let json = try #require(JSONSerialization.jsonObject(with: body.encoded()) as? [String: Any])
        let errors = try #require(json["errors"] as? [[String: Any]])
        #expect(errors.first?["code"] as? String == "DIGEST_INVALID")
        #expect(errors.first?["message"] as? String == "provided digest did not match uploaded content")
        #expect(RegistryErrorBody.decode(body.encoded()) == body)
        #expect(String(decoding: body.encoded(), as: UTF8.self) == #"{"errors":[{"code":"DIGEST_INVALID","detail":{"digest":"sha256:00"},"message":"provided digest did not match uploaded content"}]}"#)
        #expect(ErrorCode.digestInvalid.httpStatus == 400)
        #expect(ErrorCode.unauthorized.httpStatus == 401)
    }

    @Test func keepsUnknownCodes() {
        let body = RegistryErrorBody.decode(Data(#"{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"bad n"}]}"#.utf8))
        #expect(body?.errors.first?.knownCode == nil)
        #expect(body?.summary == "PAGINATION_NUMBER_INVALID: bad n")
        #expect(RegistryErrorBody.decode(Data("<html>".utf8)) == nil)
    }
}
