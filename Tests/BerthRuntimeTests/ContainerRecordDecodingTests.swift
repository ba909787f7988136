import Foundation
import Testing

@testable import BerthRuntime

/// Container records on disk outlive the version that wrote them: `ps`, `rm` and the restart at
/// boot must still load every record earlier versions wrote.
@Suite struct ContainerRecordDecodingTests {
    static let id = "4818a669693928184d2c895e51f5e84c31b2d3089f8eb18bb58da6b28bb3a14d"

    /// A record as the version before synthesized defaults wrote it (`create -t -i -e -l --restart
    /// --memory -p --tmpfs --health-cmd -v`, then stopped), byte for byte.
    static let currentRecord = #"""
    {"config":{"attachStderr":true,"attachStdin":true,"attachStdout":true,"cmd":["sh","-c","echo hi"],"entrypoint":[],"env":["A=1"],"exposedPorts":[],"healthcheck":{"Test":["CMD-SHELL","true"]},"hostname":"4818a6696939","labels":{"k":"v"},"openStdin":true,"stdinOnce":true,"stopSignal":"SIGTERM","tty":true,"user":"","workingDir":""},"created":"2026-12-06T10:45:09.125Z","endpointsConfig":[{"aliases":[],"network":"bridge"}],"hostConfig":{"autoRemove":false,"binds":["/data"],"capAdd":[],"capDrop":[],"initProcess":false,"logConfig":{"config":{},"type":"json-file"},"maskedPaths":["/proc/acpi","/sys/firmware"],"memory":67108864,"mountSpecs":[],"nanoCPUs":0,"networkMode":"bridge","privileged":false,"publish":["127.0.0.1:8080:80"],"publishAllPorts":false,"readonlyPaths":["/proc/bus","/proc/sysrq-trigger"],"readonlyRootfs":false,"restartPolicy":{"maximumRetryCount":3,"name":"on-failure"},"runtime":"runc","tmpfs":{"/scratch":""}},"id":"4818a669693928184d2c895e51f5e84c31b2d3089f8eb18bb58da6b28bb3a14d","imageID":"sha256:95decef44a8e5567cf0c17888d0c9c755029c46fe9fe1eef4cb52993d2046039","imageName":"busybox:rec","layers":["/var/lib/berth/snapshots/023b0c7d75816cbf305aa2b09f1983fc08f947ce3b905a8af2ddece562ec7a1a/fs"],"mounts":[{"anonymous":true,"destination":"/data","fromTmpfsFlag":false,"mode":"","name":"2a2150f5223b9efe38eed9d732d90c3ce170d7578e744a676e2cd0c9ce14fa98","noCopy":false,"propagation":"","readWrite":true,"source":"/var/lib/berth/volumes/2a2150f5223b9efe38eed9d732d90c3ce170d7578e744a676e2cd0c9ce14fa98/_data","tmpfsOptions":[],"type":"volume"},{"anonymous":false,"destination":"/scratch","fromTmpfsFlag":true,"mode":"","name":"","noCopy":false,"propagation":"","readWrite":true,"source":"","tmpfsOptions":[],"type":"tmpfs"}],"name":"rec1","network":{"endpoints":[],"gateway":"","ipAddress":"","macAddress":"","ports":[],"prefixLength":0},"state":{"error":"","exitCode":3,"finishedAt":"2026-12-06T10:46:00.5Z","manuallyStopped":true,"monitorPID":0,"oomKilled":false,"pid":0,"restartCount":2,"startedAt":"2026-12-06T10:45:59.25Z","status":"exited"}}
    """#

    /// A record with only the fields the first version of the record had (no TTY or stdin flags,
    /// restart policy, mounts, networks, runtime, log or confinement settings).
    static let firstVersionRecord = #"""
    {"config":{"cmd":["httpd","-f"],"entrypoint":[],"env":["PATH=/bin"],"exposedPorts":["80/tcp"],"hostname":"4818a6696939","labels":{},"stopSignal":"SIGQUIT","user":"","workingDir":"/www"},"created":"2026-11-20T08:00:00Z","hostConfig":{"autoRemove":false,"capAdd":[],"capDrop":[],"memory":0,"nanoCPUs":0,"networkMode":"host","privileged":false,"publish":[],"readonlyRootfs":true},"id":"4818a669693928184d2c895e51f5e84c31b2d3089f8eb18bb58da6b28bb3a14d","imageID":"sha256:95decef44a8e5567cf0c17888d0c9c755029c46fe9fe1eef4cb52993d2046039","imageName":"busybox","layers":["/var/lib/berth/snapshots/023b/fs"],"name":"old","network":{"gateway":"","ipAddress":"","macAddress":"","ports":[],"prefixLength":0},"state":{"error":"","exitCode":0,"monitorPID":0,"oomKilled":false,"pid":0,"status":"exited"}}
    """#

    /// Writes `json` as container `id`'s record in a fresh root and loads it through the store.
    private func load(_ json: String, then check: (ContainerRecord?, ContainerStore) throws -> Void = { _, _ in }) throws {
        let root = NSTemporaryDirectory() + "berth-records-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ContainerStore(root: root)
        try FileManager.default.createDirectory(atPath: store.path(of: Self.id), withIntermediateDirectories: true)
        try Data(json.utf8).write(to: URL(fileURLWithPath: store.files(of: Self.id).record))
        try check(try store.record(Self.id), store)
    }

    /// Whether `written` holds everything `original` does: each object's keys with the same values.
    private static func keeps(_ original: Any, in written: Any) -> Bool {
        guard let original = original as? [String: Any] else { return (original as? NSObject) == (written as? NSObject) }
        guard let written = written as? [String: Any] else { return false }
        return original.allSatisfy { key, value in written[key].map { keeps(value, in: $0) } ?? false }
    }

    @Test func aRecordOfTheCurrentFormatLoadsAndIsWrittenBackWithAllItsFields() throws {
        try load(Self.currentRecord) { loaded, store in
            let record = try #require(loaded)
            #expect(record.config.tty && record.config.openStdin && record.config.stdinOnce && record.config.attachStdin)
            #expect(record.config.env == ["A=1"] && record.config.labels == ["k": "v"])
            #expect(record.hostConfig.restartPolicy == RestartPolicy(name: "on-failure", maximumRetryCount: 3))
            #expect(record.hostConfig.memory == 64 << 20 && record.hostConfig.tmpfs == ["/scratch": ""])
            #expect(record.hostConfig.logConfig == LogConfig() && record.hostConfig.maskedPaths == ["/proc/acpi", "/sys/firmware"])
            #expect(record.mounts.map(\.destination) == ["/data", "/scratch"] && record.mounts[0].anonymous)
            #expect(record.endpointsConfig == [ContainerRecord.EndpointConfig(network: "bridge")])
            #expect(record.state.status == .exited && record.state.exitCode == 3 && record.state.restartCount == 2)
            #expect(record.state.manuallyStopped && record.state.startedAt != nil)

            // Written back, it keeps every field with its value (fields added since come on top).
            try store.write(record)
            let written = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: store.files(of: Self.id).record)))
            let original = try JSONSerialization.jsonObject(with: Data(Self.currentRecord.utf8))
            #expect(Self.keeps(original, in: written))
            #expect(try store.record(Self.id) == record)
        }
    }

    @Test func aRecordMissingTheNewerFieldsLoadsWithTheirDefaults() throws {
        try load(Self.firstVersionRecord) { loaded, store in
            let record = try #require(loaded)
            #expect(record.name == "old" && record.config.workingDir == "/www" && record.config.stopSignal == "SIGQUIT")
            #expect(record.hostConfig.networkMode == "host" && record.hostConfig.readonlyRootfs)
            #expect(!record.config.tty && !record.config.openStdin && !record.config.attachStdout)
            #expect(record.config.healthcheck == nil && record.config.stopTimeout == nil)
            #expect(record.hostConfig.restartPolicy == RestartPolicy(name: "no"))
            #expect(record.hostConfig.runtime == "runc" && !record.hostConfig.initProcess && !record.hostConfig.publishAllPorts)
            #expect(record.hostConfig.binds.isEmpty && record.hostConfig.mountSpecs.isEmpty && record.hostConfig.tmpfs.isEmpty)
            #expect(record.hostConfig.logConfig == nil && record.hostConfig.securityOpt == nil && record.hostConfig.maskedPaths == nil)
            #expect(record.mounts.isEmpty && record.endpointsConfig.isEmpty && record.network.endpoints.isEmpty)
            #expect(record.state.restartCount == 0 && !record.state.manuallyStopped && record.state.health == nil)
            // The store lists it as any other.
            #expect(try store.records().map(\.id) == [Self.id])
        }
    }

    @Test func aRecordWithoutStateOrConfigFieldsTakesEachFieldsDefault() throws {
        let minimal = #"""
        {"config":{},"created":"2026-11-20T08:00:00Z","hostConfig":{},"id":"\#(Self.id)","imageID":"sha256:95decef44a8e5567cf0c17888d0c9c755029c46fe9fe1eef4cb52993d2046039","imageName":"busybox","layers":[],"name":"bare","state":{"pid":null}}
        """#
        try load(minimal) { loaded, _ in
            let record = try #require(loaded)
            #expect(record.config == ContainerRecord.Config())
            #expect(record.hostConfig == ContainerRecord.HostConfig())
            #expect(record.state == ContainerRecord.State() && record.network == ContainerRecord.NetworkSettings())
        }
    }

    @Test func aRecordWithoutARequiredFieldIsRefused() throws {
        let nameless = Self.firstVersionRecord.replacingOccurrences(of: #""name":"old","#, with: "")
        #expect(throws: DecodingError.self) {
            _ = try load(nameless)
        }
    }
}
