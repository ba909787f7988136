import BerthOCI
import Testing

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox", "busybox:latest"),
        ("pixelpotato/python-helloworld:v1.0.0", "docker.io/pixelpotato/python-helloworld", "pixelpotato/python-helloworld:v1.0.0"),
        ("localhost:5000/a/b:v1", "localhost:5000/a/b", "localhost:5000/a/b:v1"),
        ("localhost/a", "localhost/a", "localhost/a:latest"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
        ("ghcr.io/o/p/q:1", "ghcr.io/o/p/q", "ghcr.io/o/p/q:1"),
        ("a__b/c.d-e--f", "docker.io/a__b/c.d-e--f", "a__b/c.d-e--f:latest"),
        ("Registry.Example/x", "Registry.Example/x", "Registry.Example/x:latest"),
    ])
    func normalizes(input: String, name: String, familiar: String) throws {
        let reference = try Reference(parsing: input)
        #expect(reference.name == name)
        #expect(reference.withDefaultTag.familiarString == familiar)
    }

    @Test func digestAndTag() throws {
        let hex = String(repeating: "ab", count: 32)
        let byDigest = try Reference(parsing: "busybox@sha256:\(hex)")
        #expect(byDigest.tag == nil)
        #expect(byDigest.digest?.encoded == hex)
        #expect(byDigest.withDefaultTag.tag == nil)
        let both = try Reference(parsing: "localhost:5000/app:v2@sha256:\(hex)")
        #expect(both.tag == "v2")
        #expect(both.domain == "localhost:5000")
        #expect(both.description == "localhost:5000/app:v2@sha256:\(hex)")
    }

    @Test(arguments: [
        "", "Busybox", "busybox:", ":tag", "busybox:-bad", "a/../b", "a//b", "-a", "a-", "a:b:c",
        "busybox@sha256:123", "busybox@md5:abc", "host:port/x", "a/B",
        String(repeating: "ab", count: 32), "busybox:" + String(repeating: "t", count: 129),
        "x/" + String(repeating: "a", count: 260),
    ])
    func rejects(input: String) {
        #expect(throws: Reference.ParseError.self) { try Reference(parsing: input) }
    }

    @Test func uppercaseRepositoryMessageNamesIt() {
        #expect(throws: Reference.ParseError.uppercase("library/Busybox")) { try Reference(parsing: "Busybox") }
    }
}

@Suite struct DigestTests {
    @Test func validates() throws {
        let good = "sha256:" + String(repeating: "0", count: 64)
        #expect(try Digest(parsing: good).description == good)
        #expect(throws: Digest.ParseError.self) { try Digest(parsing: "sha256:" + String(repeating: "A", count: 64)) }
        #expect(throws: Digest.ParseError.self) { try Digest(parsing: "sha256:abc") }
        #expect(throws: Digest.ParseError.self) { try Digest(parsing: "nocolon") }
        #expect(throws: Digest.ParseError.self) { try Digest(parsing: "sha1:" + String(repeating: "0", count: 40)) }
    }

    @Test func hashesKnownVector() {
        #expect(Digest.sha256(of: Array("abc".utf8)).encoded
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var digester = SHA256Digester()
        digester.update(Array("a".utf8))
        digester.update(Array("bc".utf8))
        #expect(digester.finalize() == Digest.sha256(of: Array("abc".utf8)))
    }

    @Test func chainIDsFollowTheSpec() throws {
        let a = Digest.sha256(of: [1])
        let b = Digest.sha256(of: [2])
        let chain = ChainID.chain([a, b])
        #expect(chain[0] == a)
        #expect(chain[1] == Digest.sha256(of: Array("\(a) \(b)".utf8)))
    }
}
