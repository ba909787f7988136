import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

/// The Metrics API's spellings: quantities as metrics-server marshals them, windows as Go's
/// `time.Duration`, and the PodMetrics/NodeMetrics documents.
struct KubeMetricsAPITests {
    @Test func cpuIsNanocoresInCanonicalForm() {
        #expect(KubeMetricsAPI.cpuQuantity(1_234_567) == "1234567n")
        #expect(KubeMetricsAPI.cpuQuantity(0) == "0")
        #expect(KubeMetricsAPI.cpuQuantity(1_000) == "1u")
        #expect(KubeMetricsAPI.cpuQuantity(250_000_000) == "250m")
        #expect(KubeMetricsAPI.cpuQuantity(2_000_000_000) == "2")
    }

    @Test func memoryIsBinary() {
        #expect(KubeMetricsAPI.memoryQuantity(12_345 * 1024) == "12345Ki")
        #expect(KubeMetricsAPI.memoryQuantity(3 * 1024 * 1024) == "3Mi")
        #expect(KubeMetricsAPI.memoryQuantity(0) == "0")
        // Not a multiple of 1024: written as a plain decimal number, as resource.Quantity does.
        #expect(KubeMetricsAPI.memoryQuantity(1_234_567) == "1234567")
    }

    @Test func windowsAreGoDurations() {
        #expect(Duration.milliseconds(10_500).goDescription == "10.5s")
        #expect(Duration.seconds(1).goDescription == "1s")
        #expect(Duration.nanoseconds(1_000_123_456).goDescription == "1.000123456s")
        #expect(Duration.seconds(60).goDescription == "1m0s")
        #expect(Duration.milliseconds(61_250).goDescription == "1m1.25s")
        #expect(Duration.milliseconds(750).goDescription == "750ms")
        #expect(Duration.microseconds(1500).goDescription == "1.5ms")
        #expect(Duration.nanoseconds(12).goDescription == "12ns")
        #expect(Duration.zero.goDescription == "0s")
        #expect(Duration.seconds(3723).goDescription == "1h2m3s")
        #expect(Duration.milliseconds(523).goDescription == "523ms")
        #expect(Duration.milliseconds(1200).goDescription == "1.2s")
    }

    @Test func podMetricsDocument() throws {
        let timestamp = try Date("2026-12-07T01:00:10Z", strategy: .iso8601)
        let pod = KubePodMetrics(name: "web", namespace: "shop", labels: ["tier": "front", "app": "web"], timestamp: timestamp,
                                 window: .milliseconds(10_500),
                                 containers: [.init(name: "main", usage: KubeResourceUsage(cpuNanocores: 1_234_567, memoryBytes: 2048 * 1024))])
        let now = try Date("2026-12-07T01:00:11Z", strategy: .iso8601)
        #expect(KubeMetricsAPI.document(pod, now: now).compact == """
        {"kind":"PodMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":{"name":"web","namespace":"shop",\
        "creationTimestamp":"2026-12-07T01:00:11Z","labels":{"app":"web","tier":"front"}},"timestamp":"2026-12-07T01:00:10Z",\
        "window":"10.5s","containers":[{"name":"main","usage":{"cpu":"1234567n","memory":"2Mi"}}]}
        """)
        let item = KubeMetricsAPI.document(pod, now: now, item: true)
        #expect(item.value(at: ["kind"]) == nil)
        let list = KubeMetricsAPI.list(kind: "PodMetrics", items: [item])
        #expect(list.value(at: ["kind"]) == .string("PodMetricsList"))
    }

    @Test func nodeMetricsDocument() throws {
        let timestamp = try Date("2026-12-07T01:00:10Z", strategy: .iso8601)
        let node = KubeNodeMetrics(name: "host", labels: [:], timestamp: timestamp, window: .seconds(2),
                                   usage: KubeResourceUsage(cpuNanocores: 500_000_000, memoryBytes: 1024 * 1024 * 1024))
        #expect(KubeMetricsAPI.document(node, now: timestamp).compact == """
        {"kind":"NodeMetrics","apiVersion":"metrics.k8s.io/v1beta1","metadata":{"name":"host","creationTimestamp":"2026-12-07T01:00:10Z"},\
        "timestamp":"2026-12-07T01:00:10Z","window":"2s","usage":{"cpu":"500m","memory":"1Gi"}}
        """)
    }

    @Test func discoveryAddsTheGroupAfterTheRegistrysGroups() {
        let registry = KubeResourceRegistry.builtIn
        let base = KubeDiscovery.aggregated(registry, core: false)
        let aggregated = KubeMetricsAPI.addingGroup(toAggregated: base)
        guard case .array(let before) = base.value(at: ["items"]), case .array(let items) = aggregated.value(at: ["items"]) else {
            Issue.record("no items")
            return
        }
        #expect(items.last?.value(at: ["metadata", "name"]) == .string("metrics.k8s.io"))
        #expect(Array(items.dropLast()) == before)
        let legacy = KubeMetricsAPI.addingGroup(toGroupList: KubeDiscovery.apiGroupList(registry))
        guard case .array(let groups) = legacy.value(at: ["groups"]) else { Issue.record("no groups"); return }
        #expect(groups.last?.value(at: ["preferredVersion", "groupVersion"]) == .string("metrics.k8s.io/v1beta1"))
        #expect(KubeMetricsAPI.apiResourceList.compact.contains(#"{"name":"pods","singularName":"","namespaced":true,"kind":"PodMetrics","verbs":["get","list"]}"#))
    }

    @Test func tableSumsThePodsContainers() throws {
        let pod = KubePodMetrics(name: "web", namespace: "shop", labels: [:], timestamp: .now, window: .seconds(2), containers: [
            .init(name: "a", usage: KubeResourceUsage(cpuNanocores: 250_000_000, memoryBytes: 1024 * 1024)),
            .init(name: "b", usage: KubeResourceUsage(cpuNanocores: 250_000_000, memoryBytes: 1024 * 1024)),
        ])
        let table = KubeMetricsAPI.table([pod], now: .now, includeObject: .none)
        #expect(table.value(at: ["kind"]) == .string("Table"))
        guard case .array(let rows) = table.value(at: ["rows"]), case .array(let columns) = table.value(at: ["columnDefinitions"]) else {
            Issue.record("no rows")
            return
        }
        #expect(columns.compactMap { $0.value(at: ["name"]) } == [.string("Name"), .string("cpu"), .string("memory"), .string("Window")])
        #expect(rows.first?.value(at: ["cells"]) == .array([.string("web"), .string("500m"), .string("2Mi"), .string("2s")]))
    }
}
