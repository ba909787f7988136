@testable import BerthNetwork
import Testing

/// The host's addresses, read from its interfaces: which interfaces hold an address in a subnet.
struct HostAddressTests {
    @Test func interfacesInASubnet() {
        #expect(HostAddress.interfaces(inSubnet: "127.0.0.0/8").contains("lo"))
        for (interface, address) in HostAddress.all() {
            #expect(HostAddress.interfaces(inSubnet: address + "/32").contains(interface), "\(interface) \(address)")
        }
        // 240.0.0.0/4 is reserved (RFC 1112): no interface has an address there.
        #expect(HostAddress.interfaces(inSubnet: "240.0.0.0/4").isEmpty)
        #expect(HostAddress.interfaces(inSubnet: "not a subnet").isEmpty)
    }
}
