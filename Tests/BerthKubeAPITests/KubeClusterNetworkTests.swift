import BerthKubeAPI
import Foundation
import Testing

/// Address plans: daemons on one host hold different plans, a daemon keeps the plan it had, and a
/// plan whose subnet something else holds is passed over.
struct KubeClusterNetworkTests {
    private func scratch() -> String {
        let path = NSTemporaryDirectory() + "kube-network-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func planZeroHasARealClustersDefaults() {
        let plan = KubeClusterNetwork(index: 0)
        #expect(plan.podCIDR == "10.244.0.0/24")
        #expect(plan.serviceCIDR == "10.96.0.0/24")
        #expect(plan.apiServerClusterIP == "10.96.0.1")
        #expect(plan.dnsClusterIP == "10.96.0.10")
        #expect(!plan.allocatableClusterIPs.contains("10.96.0.1") && !plan.allocatableClusterIPs.contains("10.96.0.10"))
        #expect(plan.allocatableClusterIPs.count == 252)
    }

    @Test func daemonsHoldDifferentPlansAndARootKeepsItsPlan() throws {
        let locks = scratch(), first = scratch(), second = scratch(), otherLocks = scratch()
        defer { for path in [locks, first, second, otherLocks] { try? FileManager.default.removeItem(atPath: path) } }
        let a = try KubeClusterNetworkClaim.claim(kubeDirectory: first, locks: locks)
        let b = try KubeClusterNetworkClaim.claim(kubeDirectory: second, locks: locks)
        #expect(a.network.index == 0)
        #expect(b.network.index == 1)
        // With the first plan's lock still held, a root that had plan 1 gets it back elsewhere.
        let again = try KubeClusterNetworkClaim.claim(kubeDirectory: second, locks: otherLocks)
        #expect(again.network.index == 1)
    }

    @Test func aPlanWhoseSubnetIsTakenIsPassedOver() throws {
        let locks = scratch(), directory = scratch(), other = scratch()
        defer { for path in [locks, directory, other] { try? FileManager.default.removeItem(atPath: path) } }
        let claim = try KubeClusterNetworkClaim.claim(kubeDirectory: directory, locks: locks) { $0.index != 0 }
        #expect(claim.network.index == 1)
        // The lock of the plan passed over was let go.
        let next = try KubeClusterNetworkClaim.claim(kubeDirectory: other, locks: locks)
        #expect(next.network.index == 0)
    }
}
