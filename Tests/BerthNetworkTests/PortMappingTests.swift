import Testing
@testable import BerthNetwork

@Suite struct PortMappingParseTests {
    static let good: [(String, [PortMapping])] = [
        ("5111:5000", [PortMapping(hostPort: 5111, containerPort: 5000)]),
        ("5000", [PortMapping(containerPort: 5000)]),
        ("5000/udp", [PortMapping(containerPort: 5000, proto: "udp")]),
        ("53:53/UDP", [PortMapping(hostPort: 53, containerPort: 53, proto: "udp")]),
        ("80/", [PortMapping(containerPort: 80)]),
        ("127.0.0.1:8080:80", [PortMapping(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80)]),
        ("127.0.0.1::80", [PortMapping(hostIP: "127.0.0.1", containerPort: 80)]),
        ("127.0.0.1::80/udp", [PortMapping(hostIP: "127.0.0.1", containerPort: 80, proto: "udp")]),
        ("[::1]:8080:80", [PortMapping(hostIP: "::1", hostPort: 8080, containerPort: 80)]),
        ("::1:8080:80", [PortMapping(hostIP: "::1", hostPort: 8080, containerPort: 80)]),
        ("8000-8001:80-81", [PortMapping(hostPort: 8000, containerPort: 80),
                             PortMapping(hostPort: 8001, containerPort: 81)]),
        ("80-81", [PortMapping(containerPort: 80), PortMapping(containerPort: 81)]),
        ("8000-8010:80", [PortMapping(hostPort: 8000, hostPortEnd: 8010, containerPort: 80)]),
        ("0.0.0.0:9000-9001:90-91/udp", [PortMapping(hostIP: "0.0.0.0", hostPort: 9000, containerPort: 90, proto: "udp"),
                                         PortMapping(hostIP: "0.0.0.0", hostPort: 9001, containerPort: 91, proto: "udp")]),
        ("1:65535", [PortMapping(hostPort: 1, containerPort: 65535)]),
        ("80/sctp", [PortMapping(containerPort: 80, proto: "sctp")]),
    ]

    static let bad: [(String, String)] = [
        ("", "no port specified: <empty>"),
        ("8080:", "no port specified: 8080:<empty>"),
        ("x", "invalid containerPort: x"),
        ("8080:x", "invalid containerPort: x"),
        ("0", "invalid containerPort: 0"),
        ("65536", "invalid containerPort: 65536"),
        ("-1", "invalid containerPort: -1"),
        ("81-80", "invalid containerPort: 81-80"),
        ("80-", "invalid containerPort: 80-"),
        ("y:80", "invalid hostPort: y"),
        ("70000:80", "invalid hostPort: 70000"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
        ("localhost:80:80", "invalid IP address: localhost"),
        ("[::1:80:80", "invalid IP address: [::1"),
        ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
        ("80/tcpx", "invalid proto: tcpx"),
        ("80:80/icmp", "invalid proto: icmp"),
    ]

    @Test(arguments: good)
    func parsesDockerSyntax(spec: String, expected: [PortMapping]) throws {
        #expect(try PortMapping.parse(spec) == expected)
    }

    @Test(arguments: bad)
    func rejectsWithDockersMessage(spec: String, message: String) {
        #expect {
            try PortMapping.parse(spec)
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test func rendersLikeDockerPort() throws {
        #expect(try PortMapping.parse("127.0.0.1:5111:5000").map(\.description) == ["127.0.0.1:5111->5000/tcp"])
        #expect(PortMapping(hostPort: 53, containerPort: 53, proto: "udp").description == "0.0.0.0:53->53/udp")
    }
}
