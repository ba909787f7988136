@testable import BerthEngine
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation
import Testing

/// `ps` filters on container records, without containers: records made in memory.
@Suite struct ContainerFilterTests {
    private static func record(_ name: String, _ status: ContainerRecord.Status, age: TimeInterval, exitCode: Int32 = 0,
                               labels: [String: String] = [:], ports: [ContainerRecord.PortBinding] = [],
                               exposed: [String] = [], network: String = "bridge", policy: String = "no",
                               manuallyStopped: Bool = false, volume: String? = nil) -> ContainerRecord {
        let id = String(repeating: String(name.first ?? "a"), count: 12) + String(repeating: "0", count: 52)
        var record = ContainerRecord(
            id: id, name: name, created: Date(timeIntervalSince1970: 1_000_000 - age), imageName: "busybox", imageID: "sha256:1",
            config: ContainerRecord.Config(labels: labels, exposedPorts: exposed),
            hostConfig: ContainerRecord.HostConfig(networkMode: network), layers: [])
        record.state.status = status
        record.state.exitCode = exitCode
        record.state.manuallyStopped = manuallyStopped
        record.hostConfig.restartPolicy = RestartPolicy(name: policy)
        record.network.ports = ports
        if network != "host" { record.endpointsConfig = [ContainerRecord.EndpointConfig(network: network)] }
        if let volume { record.mounts = [MountPoint(type: .volume, name: volume, destination: "/data")] }
        return record
    }

    private let records = [
        record("web", .running, age: 10, labels: ["tier": "front"], ports: [ContainerRecord.PortBinding(containerPort: 5000, proto: "tcp", hostIP: "", hostPort: 5111)], exposed: ["5000/tcp"], network: "app"),
        record("job", .exited, age: 20, exitCode: 3, labels: ["tier": "back"], policy: "unless-stopped", manuallyStopped: true, volume: "cache"),
        record("db", .created, age: 30, labels: ["tier": "back", "store": ""], exposed: ["5432/tcp"], policy: "always"),
    ]

    private func names(_ arguments: String...) throws -> [String] {
        try Engine.filter(records, by: try Filters(cli: arguments)) { throw EngineError.invalidParameter("no store") }.map(\.name)
    }

    @Test func eachKeyMatchesAsDockerdMatches() throws {
        #expect(try names("name=^/w") == ["web"])
        #expect(try names("name=^/(j|d)") == ["job", "db"])
        #expect(try names("id=jjj") == ["job"])
        #expect(try names("status=exited", "status=created") == ["job", "db"])
        #expect(try names("exited=3") == ["job"])
        #expect(try names("label=tier=back") == ["job", "db"])
        #expect(try names("label=store") == ["db"])
        #expect(try names("label!=tier=back") == ["web"])
        #expect(try names("publish=5111") == ["web"])
        #expect(try names("expose=5400-5500/tcp") == ["db"])
        #expect(try names("network=app") == ["web"])
        #expect(try names("volume=cache") == ["job"])
        #expect(try names("health=none").count == 3)
        #expect(try names("is-task=true").isEmpty)
        #expect(try names("before=web") == ["job", "db"])
        #expect(try names("since=db") == ["web", "job"])
        // Started again at boot: `unless-stopped` containers the user stopped stay stopped.
        #expect(try names("restart-policy=always", "restart-policy=unless-stopped") == ["db"])
    }

    @Test func keysCombineAndBadValuesAreRefused() throws {
        #expect(try names("label=tier=back", "status=created") == ["db"])
        for bad in ["status=sleeping", "exited=x", "health=sick", "bogus=1"] {
            #expect(throws: EngineError.self) { try Engine.checkListFilters(try Filters(cli: [bad])) }
        }
        #expect(throws: EngineError.notFound("No such container: nothing")) { try names("before=nothing") }
    }

    @Test func statusReadsAsDockerWordsIt() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        var running = records[0]
        running.state.startedAt = now.addingTimeInterval(-90)
        #expect(ContainerStatus.describe(running, now: now) == "Up About a minute")
        running.state.status = .paused
        #expect(ContainerStatus.describe(running, now: now) == "Up About a minute (Paused)")
        var exited = records[1]
        exited.state.finishedAt = now.addingTimeInterval(-3 * 3600)
        #expect(ContainerStatus.describe(exited, now: now) == "Exited (3) 3 hours ago")
        #expect(ContainerStatus.describe(records[2], now: now) == "Created")
    }

    @Test func summariesHaveDockersPortsAndNames() throws {
        let summary = ContainerSummaryJSON.document(for: records[0])
        #expect(summary["Names"] == .array([.string("/web")]))
        #expect(summary["Ports"]?.compact == #"[{"IP":"0.0.0.0","PrivatePort":5000,"PublicPort":5111,"Type":"tcp"}]"#)
        #expect(ContainerSummaryJSON.document(for: records[2])["Ports"]?.compact == #"[{"PrivatePort":5432,"Type":"tcp"}]"#)
    }
}
