@testable import BerthKubelet
import BerthOCI
import BerthRegistryClient
import Foundation
import Testing

@Suite struct DockerConfigKeyringTests {
    func auth(_ user: String, _ password: String) -> String { Data("\(user):\(password)".utf8).base64EncodedString() }

    @Test func dockerConfigJSONMatchesByRegistryAndPath() throws {
        var keyring = DockerConfigKeyring()
        let config = """
            {"auths":{"localhost:5000":{"auth":"\(auth("alice", "pw:1"))"},
                      "https://index.docker.io/v1/":{"username":"hub","password":"hubpw"},
                      "registry.example.com/team":{"auth":"\(auth("team", "t"))"},
                      "registry.example.com":{"auth":"\(auth("any", "a"))"},
                      "*.mirror.example":{"auth":"\(auth("glob", "g"))"}}}
            """
        try keyring.add(secretType: "kubernetes.io/dockerconfigjson", data: [".dockerconfigjson": Data(config.utf8)])
        #expect(keyring.credentials(for: "localhost:5000/app:1") == [Credentials(username: "alice", password: "pw:1")])
        #expect(keyring.credentials(for: "localhost:5001/app:1") == [])
        #expect(keyring.credentials(for: "busybox") == [Credentials(username: "hub", password: "hubpw")])
        #expect(keyring.credentials(for: "docker.io/library/busybox:1") == [Credentials(username: "hub", password: "hubpw")])
        #expect(keyring.credentials(for: "registry.example.com/team/app") == [Credentials(username: "team", password: "t"),
                                                                               Credentials(username: "any", password: "a")])
        #expect(keyring.credentials(for: "registry.example.com/teams/app") == [Credentials(username: "any", password: "a")])
        #expect(keyring.credentials(for: "eu.mirror.example/app") == [Credentials(username: "glob", password: "g")])
        #expect(keyring.credentials(for: "a.eu.mirror.example/app") == [])
    }

    @Test func dockercfgAndOtherTypes() throws {
        var keyring = DockerConfigKeyring()
        try keyring.add(secretType: "kubernetes.io/dockercfg",
                        data: [".dockercfg": Data(#"{"registry.local:443":{"auth":"\#(auth("old", "form"))","email":"x@y"}}"#.utf8)])
        try keyring.add(secretType: "Opaque", data: [".dockerconfigjson": Data(#"{"auths":{"registry.local:443":{"auth":"\#(auth("no", "no"))"}}}"#.utf8)])
        #expect(keyring.credentials(for: "registry.local:443/x") == [Credentials(username: "old", password: "form")])
        #expect(throws: (any Error).self) {
            try keyring.add(secretType: "kubernetes.io/dockerconfigjson", data: [".dockerconfigjson": Data("not json".utf8)])
        }
    }

    @Test func pullPolicyDefaults() throws {
        #expect(PodImages.defaultPullPolicy(try Reference(parsing: "busybox")) == "Always")
        #expect(PodImages.defaultPullPolicy(try Reference(parsing: "busybox:latest")) == "Always")
        #expect(PodImages.defaultPullPolicy(try Reference(parsing: "busybox:1.36")) == "IfNotPresent")
        #expect(PodImages.defaultPullPolicy(try Reference(parsing: "busybox@sha256:" + String(repeating: "a", count: 64))) == "IfNotPresent")
    }

    @Test func backOffDoublesAndResets() {
        let backOff = KubeletBackOff()
        let start = ContinuousClock.now
        #expect(!backOff.isWaiting("k", now: start))
        backOff.failed("k", now: start)
        #expect(backOff.isWaiting("k", now: start + .seconds(9)))
        #expect(!backOff.isWaiting("k", now: start + .seconds(10)))
        backOff.failed("k", now: start + .seconds(10))
        #expect(backOff.isWaiting("k", now: start + .seconds(29)))
        #expect(!backOff.isWaiting("k", now: start + .seconds(30)))
        backOff.forget("k")
        #expect(!backOff.isWaiting("k", now: start + .seconds(11)))
    }
}
