import BerthOCI
@testable import BerthRuntime
import Foundation
import Testing

/// Docker's seccomp profile format turned into the OCI section for a container's capabilities,
/// architecture and kernel, and `--security-opt` read as the Docker CLI and dockerd read it.
struct SeccompProfileTests {
    static let amd64 = SeccompProfile.Platform(architecture: "amd64", kernel: SeccompProfile.KernelVersion(6, 1))
    static let defaultCapabilities = BundleBuilder.defaultCapabilities

    /// The action the section takes for `name` called with no argument conditions, or the default.
    static func action(_ seccomp: RuntimeSpec.Seccomp, _ name: String) -> String {
        seccomp.syscalls?.first { $0.names.contains(name) && ($0.args ?? []).isEmpty }?.action ?? seccomp.defaultAction
    }

    @Test func theDefaultProfileRefusesWhatNeedsCapabilitiesAContainerLacks() throws {
        let seccomp = try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: Self.defaultCapabilities,
                                                                                platform: Self.amd64))
        #expect(seccomp.defaultAction == "SCMP_ACT_ERRNO" && seccomp.defaultErrnoRet == 1)
        #expect(seccomp.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        for name in ["read", "openat", "execve", "chroot", "arch_prctl", "ptrace", "socketcall"] {
            #expect(Self.action(seccomp, name) == "SCMP_ACT_ALLOW", "\(name)")
        }
        for name in ["mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "perf_event_open", "bpf",
                     "reboot", "clock_settime", "settimeofday", "open_by_handle_at", "init_module", "s390_runtime_instr"] {
            #expect(Self.action(seccomp, name) == "SCMP_ACT_ERRNO", "\(name)")
        }
        // clone may not make namespaces; clone3, whose flags a filter cannot read, says ENOSYS.
        let clone = try #require(seccomp.syscalls?.first { $0.names == ["clone"] })
        #expect(clone.args == [RuntimeSpec.SeccompArg(index: 0, value: 0x7E02_0000, op: "SCMP_CMP_MASKED_EQ")])
        let clone3 = try #require(seccomp.syscalls?.first { $0.names == ["clone3"] })
        #expect(clone3.action == "SCMP_ACT_ERRNO" && clone3.errnoRet == 38)
        // socket for every address family but AF_ALG (38) and AF_VSOCK (40).
        let socket = (seccomp.syscalls ?? []).filter { $0.names == ["socket"] }.compactMap(\.args?.first)
        #expect(socket.map(\.op) == ["SCMP_CMP_LT", "SCMP_CMP_EQ", "SCMP_CMP_GT"] && socket.map(\.value) == [38, 39, 40])
    }

    @Test func capabilitiesInTheBoundingSetAllowTheirSyscalls() throws {
        let capabilities = Self.defaultCapabilities + ["CAP_SYS_ADMIN", "CAP_SYS_TIME"]
        let seccomp = try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: capabilities, platform: Self.amd64))
        for name in ["mount", "unshare", "setns", "clone", "clone3", "clock_settime", "settimeofday"] {
            #expect(Self.action(seccomp, name) == "SCMP_ACT_ALLOW", "\(name)")
        }
        #expect(!(seccomp.syscalls ?? []).contains { $0.names == ["clone"] && $0.args != nil })
        #expect(!(seccomp.syscalls ?? []).contains { $0.action == "SCMP_ACT_ERRNO" })
        #expect(Self.action(seccomp, "reboot") == "SCMP_ACT_ERRNO" && Self.action(seccomp, "keyctl") == "SCMP_ACT_ERRNO")

        let none = try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: [], platform: Self.amd64))
        #expect(Self.action(none, "chroot") == "SCMP_ACT_ERRNO" && Self.action(none, "read") == "SCMP_ACT_ALLOW")
    }

    @Test func architectureAndKernelConditionsFollowThePlatform() throws {
        let s390x = SeccompProfile.Platform(architecture: "s390x", kernel: SeccompProfile.KernelVersion(5, 10))
        let seccomp = try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: Self.defaultCapabilities,
                                                                                platform: s390x))
        #expect(seccomp.architectures == ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"])
        #expect(Self.action(seccomp, "s390_runtime_instr") == "SCMP_ACT_ALLOW" && Self.action(seccomp, "arch_prctl") == "SCMP_ACT_ERRNO")
        // s390 passes clone's flags second.
        #expect(seccomp.syscalls?.filter { $0.names == ["clone"] }.compactMap(\.args?.first?.index) == [1])

        let old = SeccompProfile.Platform(architecture: "amd64", kernel: SeccompProfile.KernelVersion(4, 4))
        let oldKernel = try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: [], platform: old))
        #expect(Self.action(oldKernel, "ptrace") == "SCMP_ACT_ERRNO")
        #expect(Self.action(try #require(try SeccompProfile.dockerDefault.linuxSeccomp(capabilities: [], platform: Self.amd64)),
                            "ptrace") == "SCMP_ACT_ALLOW")
    }

    @Test func profilesInDockersFormatDecode() throws {
        let json = """
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
              {"name":"getpid","action":"SCMP_ACT_ALLOW"},
              {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"7.0"}},
              {"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"excludes":{"caps":["CAP_SYS_ADMIN"],"minKernel":""}},
              {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}
            ],"unknownField":true}
            """
        let profile = try SeccompProfile(json: Array(json.utf8))
        let seccomp = try #require(try profile.linuxSeccomp(capabilities: [], platform: Self.amd64))
        #expect(seccomp.architectures == ["SCMP_ARCH_X86_64"])
        // An empty minKernel is 0.0, which every kernel reaches: the exclusion holds.
        #expect(seccomp.syscalls?.map(\.names) == [["getpid"], ["personality"]])
        #expect(seccomp.syscalls?.last?.args?.first?.value == 4_294_967_295)

        #expect(try SeccompProfile(json: Array("{}".utf8)).linuxSeccomp(capabilities: [], platform: Self.amd64) == nil)
        #expect(throws: RuntimeError.invalidOption("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")) {
            try SeccompProfile(json: Array(#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#.utf8))
                .linuxSeccomp(capabilities: [], platform: Self.amd64)
        }
        #expect(throws: RuntimeError.invalidOption("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")) {
            try SeccompProfile(json: Array(#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#.utf8))
                .linuxSeccomp(capabilities: [], platform: Self.amd64)
        }
        #expect(throws: RuntimeError.invalidOption(#"Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>" at syscalls[0].includes.minKernel"#)) {
            try SeccompProfile(json: Array(#"{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}"#.utf8))
        }
        #expect(throws: RuntimeError.invalidOption(#"Decoding seccomp profile failed: missing "action" at syscalls[0]"#)) {
            try SeccompProfile(json: Array(#"{"syscalls":[{"names":["a"]}]}"#.utf8))
        }
    }

    @Test func theDefaultProfileSurvivesItsOwnJSONForm() throws {
        let json = try CanonicalJSON.encode(SeccompProfile.dockerDefault)
        #expect(try SeccompProfile(json: json) == SeccompProfile.dockerDefault)
        #expect(String(decoding: json, as: UTF8.self).contains(#""minKernel":"4.8""#))
    }

    @Test func securityOptionsAreReadAsDockerdReadsThem() throws {
        #expect(try SecurityOptions(parsing: []).seccomp == .unspecified)
        let options = try SecurityOptions(parsing: ["no-new-privileges", "seccomp:unconfined", "label=disable", "apparmor=x"])
        #expect(options.noNewPrivileges && options.seccomp == .unconfined)
        #expect(try !SecurityOptions(parsing: ["no-new-privileges=true", "no-new-privileges=false"]).noNewPrivileges)
        #expect(try SecurityOptions(parsing: ["seccomp=builtin"]).seccomp == .builtin)
        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt 1: "foo""#)) { try SecurityOptions(parsing: ["foo"]) }
        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt 2: "foo=bar""#)) { try SecurityOptions(parsing: ["foo=bar"]) }
        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt 2: "no-new-privileges=maybe""#)) {
            try SecurityOptions(parsing: ["no-new-privileges=maybe"])
        }
        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt 2: "systempaths=unconfined""#)) {
            try SecurityOptions(parsing: ["systempaths=unconfined"])
        }

        // Privileged containers have no filter unless one is asked for.
        let capabilities = Self.defaultCapabilities
        #expect(try SecurityOptions(parsing: []).linuxSeccomp(capabilities: capabilities, privileged: true) == nil)
        #expect(try SecurityOptions(parsing: ["seccomp=builtin"]).linuxSeccomp(capabilities: capabilities, privileged: true) != nil)
        #expect(try SecurityOptions(parsing: ["seccomp=unconfined"]).linuxSeccomp(capabilities: capabilities, privileged: false) == nil)
        let custom = try SecurityOptions(parsing: [#"seccomp={"defaultAction":"SCMP_ACT_LOG"}"#])
        #expect(try custom.linuxSeccomp(capabilities: capabilities, privileged: true)?.defaultAction == "SCMP_ACT_LOG")
    }

    @Test func theClientSendsProfileFilesAsCompactJSON() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-seccomp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/profile.json"
        try Data("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [{\"names\": [\"a b\"], \"action\": \"SCMP_ACT_ALLOW\"}]\n}\n".utf8)
            .write(to: URL(fileURLWithPath: file))
        let sent = try SecurityOptions.clientForm(["seccomp=" + file, "systempaths=unconfined", "no-new-privileges", "seccomp=unconfined"])
        #expect(sent.options == [#"seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a b"],"action":"SCMP_ACT_ALLOW"}]}"#,
                                 "no-new-privileges", "seccomp=unconfined"])
        #expect(sent.unconfinedSystemPaths)

        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt: "foo""#)) { try SecurityOptions.clientForm(["foo"]) }
        #expect(throws: RuntimeError.invalidOption(#"invalid --security-opt: "seccomp=""#)) { try SecurityOptions.clientForm(["seccomp="]) }
        #expect(throws: RuntimeError.invalidOption("opening seccomp profile (\(directory)/none.json) failed: open \(directory)/none.json: no such file or directory")) {
            try SecurityOptions.clientForm(["seccomp=\(directory)/none.json"])
        }
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: (any Error).self) { try SecurityOptions.clientForm(["seccomp=" + file]) }
    }
}
