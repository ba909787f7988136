import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// Pure parts of the runtime: the json-file log format, runtime-spec encoding, cgroup paths.
struct BundleTests {
    @Test func logLinesEscapeAsGoDoes() {
        var out: [UInt8] = []
        JSONLog.encode(Array("a\"b\\<tag>&\t\u{1}\n".utf8)[...], stream: "stdout", time: "2024-01-02T03:04:05.5Z", into: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == #"{"log":"a\"b\\\u003ctag\u003e\u0026\t\u0001\n","stream":"stdout","time":"2024-01-02T03:04:05.5Z"}"# + "\n")
    }

    @Test func invalidUTF8IsReplacedInLogs() {
        var out: [UInt8] = []
        JSONLog.encode([0x61, 0xff, 0x62][...], stream: "stderr", time: "t", into: &out)
        #expect(String(decoding: out, as: UTF8.self).hasPrefix("{\"log\":\"a\u{FFFD}b\""))
        let decoded = JSONLog.decode(out.dropLast())
        #expect(decoded?.stream == "stderr")
        #expect(decoded.map { String(decoding: $0.log, as: UTF8.self) } == "a\u{FFFD}b")
    }

    /// A record as the first releases wrote it, before terminals, restart policies, volumes, log
    /// options, runtimes, user networks and security options: it loads, with each later field at its default.
    @Test func recordsWrittenBeforeLaterFieldsStillLoad() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-record-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try ContainerStore(root: root)
        let id = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: store.path(of: id), withIntermediateDirectories: true)
        let json = """
            {"config":{"cmd":["sh"],"entrypoint":[],"env":["PATH=/bin"],"exposedPorts":[],"hostname":"abababababab",
            "labels":{},"stopSignal":"SIGTERM","user":"","workingDir":"/"},"created":"2026-11-01T10:00:00Z",
            "hostConfig":{"autoRemove":false,"capAdd":[],"capDrop":[],"memory":0,"nanoCPUs":0,"networkMode":"bridge",
            "privileged":false,"publish":["8080:80"],"readonlyRootfs":false},"id":"\(id)","imageID":"sha256:1",
            "imageName":"busybox","layers":["/l1"],"name":"old","network":{"gateway":"10.77.0.1",
            "ipAddress":"10.77.0.5","macAddress":"","prefixLength":16,"ports":[]},
            "state":{"error":"","exitCode":3,"finishedAt":"2026-11-01T10:05:00Z","oomKilled":false,"pid":0,
            "startedAt":"2026-11-01T10:00:01Z","status":"exited"}}
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: store.path(of: id) + "/container.json"))
        let record = try #require(try store.record(id))
        #expect(record.name == "old" && record.state.status == .exited && record.state.exitCode == 3)
        #expect(record.hostConfig.publish == ["8080:80"] && record.network.ipAddress == "10.77.0.5")
        #expect(record.hostConfig.restartPolicy == RestartPolicy() && record.hostConfig.runtime == "runc")
        #expect(record.hostConfig.logConfig == nil && record.hostConfig.binds.isEmpty && !record.hostConfig.initProcess)
        #expect(!record.config.tty && !record.config.openStdin && record.config.healthcheck == nil)
        #expect(record.state.restartCount == 0 && !record.state.manuallyStopped && record.state.monitorPID == 0)
        #expect(record.mounts.isEmpty && record.endpointsConfig.isEmpty && record.network.endpoints.isEmpty)
        #expect(record.hostConfig.securityOpt == nil && record.hostConfig.maskedPaths == nil && record.hostConfig.readonlyPaths == nil)
        #expect(try store.records().map(\.id) == [id])
    }

    @Test func runtimeSpecUsesTheSpecFieldNames() throws {
        var spec = RuntimeSpec(process: RuntimeSpec.Process(args: ["sh"], cwd: "/"), root: RuntimeSpec.Root(path: "rootfs"))
        var linux = RuntimeSpec.Linux()
        linux.cgroupsPath = "/berth/x"
        linux.resources = RuntimeSpec.Resources(memory: RuntimeSpec.Memory(limit: 1024), pids: RuntimeSpec.Pids(limit: 5))
        linux.namespaces = [RuntimeSpec.Namespace(type: "pid")]
        linux.maskedPaths = ["/proc/kcore"]
        spec.linux = linux
        spec.process?.rlimits = [RuntimeSpec.POSIXRlimit(type: "RLIMIT_NOFILE", hard: 10, soft: 5)]
        let json = String(decoding: try CanonicalJSON.encode(spec), as: UTF8.self)
        for fragment in [#""ociVersion":"1.0.2""#, #""cgroupsPath":"/berth/x""#, #""pids":{"limit":5}"#,
                         #""memory":{"limit":1024}"#, #""maskedPaths":["/proc/kcore"]"#,
                         #""rlimits":[{"hard":10,"soft":5,"type":"RLIMIT_NOFILE"}]"#, #""user":{"gid":0,"uid":0}"#] {
            #expect(json.contains(fragment), "missing \(fragment) in \(json)")
        }
        #expect(try CanonicalJSON.decode(RuntimeSpec.self, from: Array(json.utf8)) == spec)
    }

    @Test func cgroupDirectoriesFollowTheLayout() {
        #expect(CgroupLayout.path(for: "abc") == "/berth/abc")
        #expect(CgroupLayout.v2.directories(for: "abc", base: "/sys/fs/cgroup") == ["/sys/fs/cgroup/berth/abc"])
        if CgroupLayout.detect() != .v2 {
            let directories = CgroupLayout.detect().directories(for: "abc")
            #expect(directories.contains("/sys/fs/cgroup/memory/berth/abc"))
            #expect(!directories.contains("/sys/fs/cgroup/cpu/berth/abc") || !directories.contains("/sys/fs/cgroup/cpu,cpuacct/berth/abc"))
        }
    }
}
