import Testing

@testable import BerthKubeDNS

@Suite struct DNSMessageTests {
    /// A query as dig sends it (`dig web.default.svc.cluster.local A`, EDNS0 with a 1232-byte payload).
    static let digQuery: [UInt8] = [
        0x12, 0x34, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        3, 0x77, 0x65, 0x62, 7, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 3, 0x73, 0x76, 0x63,
        7, 0x63, 0x6c, 0x75, 0x73, 0x74, 0x65, 0x72, 5, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0,
        0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    @Test func decodesAQueryWithEDNS() throws {
        let message = try DNSMessage(decoding: Self.digQuery)
        #expect(message.id == 0x1234)
        #expect(!message.isResponse)
        #expect(message.recursionDesired)
        #expect(message.questions == [DNSQuestion(name: "web.default.svc.cluster.local", type: .a)])
        #expect(message.opt?.class == 1232)
        #expect(message.encoded() == Self.digQuery)
    }

    @Test func everyRecordTypeSurvivesARoundTrip() throws {
        var message = DNSMessage(id: 7)
        message.isResponse = true
        message.authoritative = true
        message.responseCode = .nameError
        message.questions = [DNSQuestion(name: "_http._tcp.web.default.svc.cluster.local", type: .srv)]
        message.answers = [
            DNSRecord(name: "a.cluster.local", type: .a, ttl: 5, data: .a([10, 96, 0, 20])),
            DNSRecord(name: "a.cluster.local", type: .aaaa, ttl: 5, data: .aaaa(IPAddressText.ipv6("fd00::1") ?? [])),
            DNSRecord(name: "cluster.local", type: .ns, ttl: 5, data: .ns("ns.dns.cluster.local")),
            DNSRecord(name: "x.cluster.local", type: .cname, ttl: 5, data: .cname("example.org")),
            DNSRecord(name: "20.0.96.10.in-addr.arpa", type: .ptr, ttl: 5, data: .ptr("web.default.svc.cluster.local")),
            DNSRecord(name: "_http._tcp.web.default.svc.cluster.local", type: .srv, ttl: 5,
                      data: .srv(priority: 0, weight: 50, port: 8080, target: "web-0.web.default.svc.cluster.local")),
            DNSRecord(name: "dns-version.cluster.local", type: .txt, ttl: 5, data: .txt(["1.1.0"])),
        ]
        message.authorities = [DNSRecord(name: "cluster.local", type: .soa, ttl: 5,
                                         data: .soa(mname: "ns.dns.cluster.local", rname: "hostmaster.cluster.local", serial: 1,
                                                    refresh: 7200, retry: 1800, expire: 86400, minimum: 5))]
        message.additionals = [DNSRecord(name: "", type: .opt, class: 1232, ttl: 0, data: .raw([]))]
        let bytes = message.encoded()
        #expect(try DNSMessage(decoding: bytes) == message)
        // "cluster.local" is written once; every later mention is a two-byte pointer.
        let needle = Array("\u{7}cluster\u{5}local".utf8)
        let occurrences = (0...(bytes.count - needle.count)).filter { Array(bytes[$0..<$0 + needle.count]) == needle }
        #expect(occurrences.count == 2, "once in the names, once in the SRV target (never compressed)")
    }

    @Test func truncatesToTheRoomGivenKeepingOPT() throws {
        var message = DNSMessage(id: 1)
        message.isResponse = true
        message.questions = [DNSQuestion(name: "big.default.svc.cluster.local", type: .a)]
        message.answers = (0..<100).map { DNSRecord(name: "big.default.svc.cluster.local", type: .a, ttl: 5, data: .a([10, 244, 0, UInt8($0)])) }
        message.additionals = [DNSRecord(name: "", type: .opt, class: 1232, ttl: 0, data: .raw([]))]
        let bytes = message.encoded(limit: 512)
        #expect(bytes.count <= 512)
        let decoded = try DNSMessage(decoding: bytes)
        #expect(decoded.truncated)
        #expect(decoded.answers.count < 100 && !decoded.answers.isEmpty)
        #expect(decoded.opt != nil)
        #expect(try DNSMessage(decoding: message.encoded(limit: 65535)).answers.count == 100)
    }

    @Test func refusesBrokenMessages() {
        #expect(throws: DNSMessage.DecodingError.truncated) { try DNSMessage(decoding: Array(Self.digQuery.prefix(20))) }
        // A compression pointer to itself would loop forever.
        var looping: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        looping += [0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSMessage.DecodingError.badName) { try DNSMessage(decoding: looping) }
    }

    @Test func parsesAddresses() {
        #expect(IPAddressText.ipv4("10.96.0.10") == [10, 96, 0, 10])
        #expect(IPAddressText.ipv4("10.96.0") == nil)
        #expect(IPAddressText.ipv4("10.96.0.256") == nil)
        #expect(IPAddressText.ipv6("::1") == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddressText.ipv6("fd00:1::2") == [0xfd, 0, 0, 1] + Array(repeating: 0, count: 10) + [0, 2])
        #expect(IPAddressText.ipv6("10.0.0.1") == nil)
    }
}
