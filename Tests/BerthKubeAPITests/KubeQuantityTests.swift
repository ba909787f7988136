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
