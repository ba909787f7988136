import Testing

@testable import BerthKubeAPI

@Suite struct KubeQuantityTests {
    @Test func canonicalSpellingsAsTheAPIServerStoresThem() throws {
        let cases: [(String, String)] = [
            ("500m", "500m"), ("0.5", "500m"), ("1000m", "1"), ("1.5", "1500m"), ("2", "2"), ("1000", "1k"), ("1500", "1500"),
            ("128Mi", "128Mi"), ("1.5Gi", "1536Mi"), ("2048Ki", "2Mi"), ("1024", "1024"), ("1Gi", "1Gi"), ("512", "512"),
            ("0.5Ki", "512"), ("1e3", "1e3"), ("1.5e3", "1500"), ("1e6", "1e6"), ("100M", "100M"), ("1G", "1G"), ("1000k", "1M"),
            ("0", "0"), ("0Mi", "0"), ("-1", "-1"), ("+2", "2"), ("1n", "1n"), ("0.1n", "1n"), ("12.0", "12"), (".5", "500m"),
        ]
        for (text, canonical) in cases {
            #expect(try KubeQuantity(text).canonical == canonical, "\(text)")
        }
    }

    @Test func numericValuesRoundUp() throws {
        #expect(try KubeQuantity("128Mi").value == 134_217_728)
        #expect(try KubeQuantity("1.5Gi").value == 1_610_612_736)
        #expect(try KubeQuantity("500m").milliValue == 500)
        #expect(try KubeQuantity("500m").value == 1)
        #expect(try KubeQuantity("2").milliValue == 2000)
        #expect(try KubeQuantity("1u").milliValue == 1)
        #expect(try KubeQuantity("1k").value == 1000)
    }

    @Test func badSpellingsAreRefused() {
        for text in ["", "abc", "1.2.3", "Mi", "1mi", "1 Gi", "1Gx", "--1"] {
            #expect(throws: KubeQuantity.ParseError.self, "\(text)") { try KubeQuantity(text) }
        }
    }
}

@Suite struct KubeProtobufWorkloadTests {
    func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
    func text(_ number: Int, _ value: String) -> [UInt8] { field(number, Array(value.utf8)) }
    /// A varint field; tags of fields above 15 take two bytes.
    func varint(_ number: Int, _ value: UInt8) -> [UInt8] {
        let tag = number << 3
        return (tag < 128 ? [UInt8(tag)] : [UInt8(tag & 0x7F | 0x80), UInt8(tag >> 7)]) + [value]
    }

    /// As Go writes a Deployment: IntOrString members, quantities as messages in a map, plain
    /// bools written as false, a pointer integer written as 0.
    @Test func deploymentBodiesBecomeJSON() throws {
        let quantity = field(1, text(1, "cpu") + field(2, text(1, "500m")))
        let container = text(1, "web") + text(2, "nginx") + field(8, quantity) + varint(16, 0) + varint(18, 1)
        let template = field(1, text(1, "")) + field(2, field(2, container) + text(3, "Always"))
        let strategy = text(1, "RollingUpdate") + field(2, field(1, varint(1, 0) + varint(2, 2)) + field(2, varint(1, 1) + text(3, "50%")))
        let spec = varint(1, 0) + field(2, field(1, text(1, "app") + text(2, "web"))) + field(3, template) + field(4, strategy) + varint(7, 0)
        let envelope = [0x6B, 0x38, 0x73, 0x00] + field(1, text(1, "apps/v1") + text(2, "Deployment")) + field(2, field(1, text(1, "web")) + field(2, spec))
        let decoded = try KubeProtobuf.decode(envelope)
        #expect(decoded.compact == #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{},"spec":{"containers":[{"name":"web","image":"nginx","resources":{"limits":{"cpu":"500m"}},"tty":true}],"restartPolicy":"Always"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2,"maxSurge":"50%"}}}}"#)
    }
}
