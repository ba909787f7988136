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
