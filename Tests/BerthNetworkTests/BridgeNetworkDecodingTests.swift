import BerthNetwork
import Foundation
import Testing

/// Network definitions and attachment records embed a `BridgeNetwork`; those written before it had
/// `embeddedDNS` must still load.
@Suite struct BridgeNetworkDecodingTests {
    @Test func aBridgeWrittenBeforeEmbeddedDNSLoadsWithoutIt() throws {
        let old = #"{"bridge":"br-0123456789ab","cniName":"berth-net1","gateway":"10.80.0.1","name":"net1","subnet":"10.80.0.0/16"}"#
        let bridge = try JSONDecoder().decode(BridgeNetwork.self, from: Data(old.utf8))
        #expect(bridge == BridgeNetwork(name: "net1", cniName: "berth-net1", bridge: "br-0123456789ab",
                                        subnet: "10.80.0.0/16", gateway: "10.80.0.1"))
        #expect(!bridge.embeddedDNS)
    }

    @Test func embeddedDNSIsWrittenAndReadBack() throws {
        let bridge = BridgeNetwork(name: "net1", cniName: "berth-net1", bridge: "br-0123456789ab", subnet: "10.80.0.0/16",
                                   gateway: "10.80.0.1", embeddedDNS: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(bridge)
        #expect(String(decoding: data, as: UTF8.self).contains(#""embeddedDNS":true"#))
        #expect(try JSONDecoder().decode(BridgeNetwork.self, from: data) == bridge)
    }
}
