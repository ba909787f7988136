@testable import BerthEngine
import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// The create body as the docker 28 CLI sends it for
/// `docker create --name probe -m 64m --cpus 0.5 --pids-limit 10 -p 5111:5000 -v /tmp/x:/x
/// --restart on-failure:3 -e A=1 -l k=v --health-cmd true --read-only --cap-add NET_ADMIN --init
/// -w /tmp -u 1 --entrypoint sh --stop-signal TERM --stop-timeout 5 --tmpfs /t
/// --mount type=volume,target=/v busybox -c true` (captured from the CLI, unchanged).
private let dockerCLIBody = #"""
{"Hostname":"","Domainname":"","User":"1","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"ExposedPorts":{"5000/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["-c","true"],"Healthcheck":{"Test":["CMD-SHELL","true"]},"Image":"busybox","Volumes":{},"WorkingDir":"/tmp","Entrypoint":["sh"],"OnBuild":null,"Labels":{"k":"v"},"StopSignal":"TERM","StopTimeout":5,"HostConfig":{"Binds":["/tmp/x:/x"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{"5000/tcp":[{"HostIp":"","HostPort":"5111"}]},"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":["CAP_NET_ADMIN"],"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":true,"SecurityOpt":null,"Tmpfs":{"/t":""},"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":67108864,"NanoCpus":500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":10,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"Mounts":[{"Type":"volume","Target":"/v"}],"MaskedPaths":null,"ReadonlyPaths":null,"Init":true},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}
"""#

/// The same body with one HostConfig field replaced.
private func body(hostConfig field: String, _ value: String) throws -> Data {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(dockerCLIBody.utf8)) as? [String: Any])
    var host = try #require(object["HostConfig"] as? [String: Any])
    host[field] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
    object["HostConfig"] = host
    return try JSONSerialization.data(withJSONObject: object)
}

private func refusal(_ data: Data) -> EngineError? {
    do {
        _ = try ContainerCreateOptions(apiBody: data, name: nil)
        return nil
    } catch {
        return error as? EngineError
    }
}

@Suite struct ContainerCreateOptionsTests {
    @Test func theDockerCLIsCreateBodyTranslatesFieldByField() throws {
        let options = try ContainerCreateOptions(apiBody: Data(dockerCLIBody.utf8), name: "probe")
        #expect(options.image == "busybox" && options.name == "probe")
        #expect(options.entrypoint == ["sh"] && options.command == ["-c", "true"])
        #expect(options.env == ["A=1"] && options.labels == ["k": "v"] && options.user == "1" && options.workingDir == "/tmp")
        #expect(options.stopSignal == "TERM" && options.stopTimeout == 5)
        #expect(options.healthcheck == HealthConfig(Test: ["CMD-SHELL", "true"]))
        #expect(options.exposedPorts == ["5000/tcp"] && options.publish == ["5111:5000/tcp"])
        #expect(options.networkMode == "default" && options.networkAliases.isEmpty)
        #expect(options.restartPolicy == RestartPolicy(name: "on-failure", maximumRetryCount: 3))
        #expect(options.memory == 64 << 20 && options.nanoCPUs == 500_000_000 && options.pidsLimit == 10)
        #expect(options.binds == ["/tmp/x:/x"] && options.mounts == ["type=volume,target=/v"] && options.tmpfs == ["/t"])
        #expect(options.capAdd == ["CAP_NET_ADMIN"] && options.readonlyRootfs && options.initProcess)
        #expect(options.securityOpt == nil && !options.unconfinedSystemPaths)
        #expect((options.attachStdin, options.attachStdout, options.attachStderr) == (false, true, true))
        #expect(options.groupAdd.isEmpty)
    }

    @Test func groupAddIsTakenAsGivenAndRecorded() throws {
        let options = try ContainerCreateOptions(apiBody: try body(hostConfig: "GroupAdd", #"["staff","555"]"#), name: nil)
        #expect(options.groupAdd == ["staff", "555"])
        var plain = ContainerCreateOptions(image: "busybox")
        plain.groupAdd = ["staff", "555"]
        #expect(try plain.runOptions().hostConfig.groupAdd == ["staff", "555"])
    }

    @Test func everyUnsupportedFieldIsRefusedByNameWhenSet() throws {
        let cases: [(String, String)] = [
            ("Dns", #"["8.8.8.8"]"#), ("ExtraHosts", #"["db:10.0.0.2"]"#), ("Links", #"["other:alias"]"#),
            ("VolumesFrom", #"["other"]"#), ("OomScoreAdj", "500"), ("CpuQuota", "50000"), ("PidMode", #""host""#),
            ("IpcMode", #""host""#), ("Devices", #"[{"PathOnHost":"/dev/fuse"}]"#), ("Ulimits", #"[{"Name":"nofile","Soft":1,"Hard":2}]"#),
            ("Sysctls", #"{"net.ipv4.ip_forward":"1"}"#), ("MemorySwap", "1000000000"), ("OomKillDisable", "true"),
            ("ShmSize", "1000"), ("CgroupParent", #""/mine""#), ("MaskedPaths", #"["/proc/kcore"]"#),
        ]
        for (field, value) in cases {
            let error = try #require(refusal(try body(hostConfig: field, value)), "\(field) was accepted")
            #expect(error.kind == .invalidParameter)
            #expect(error.message.contains("HostConfig.\(field)"), "\(error.message)")
        }
    }

    @Test func configAndNetworkingFieldsAreRefusedToo() throws {
        let disabled = dockerCLIBody.replacingOccurrences(of: #""Domainname":"""#, with: #""NetworkDisabled":true,"Domainname":"""#)
        #expect(refusal(Data(disabled.utf8))?.message.contains("NetworkDisabled") == true)
        let staticIP = dockerCLIBody.replacingOccurrences(of: #""IPAMConfig":null"#, with: #""IPAMConfig":{"IPv4Address":"10.0.0.9"}"#)
        #expect(refusal(Data(staticIP.utf8))?.message.contains("NetworkingConfig.EndpointsConfig.default.IPAMConfig.IPv4Address") == true)
        let two = #"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"a":{},"b":{}}},"HostConfig":{"NetworkMode":"a"}}"#
        #expect(refusal(Data(two.utf8))?.message.contains("one network") == true)
    }

    @Test func defaultsAndUnknownFieldsPass() throws {
        let minimal = try ContainerCreateOptions(apiBody: Data(#"{"Image":"busybox","SomethingNew":{"x":1}}"#.utf8), name: "")
        #expect(minimal.image == "busybox" && minimal.name == nil && minimal.entrypoint == nil && minimal.command.isEmpty)
        #expect(refusal(Data(#"{"Cmd":["true"]}"#.utf8))?.message.contains("Config.Image is required") == true)
        #expect(refusal(Data(#"{"Image":"busybox","Memory":"lots","HostConfig":{"Memory":"lots"}}"#.utf8))?.message
            == "invalid JSON: HostConfig.Memory: expected an integer")
    }

    @Test func portBindingsBecomePublishSpecs() throws {
        let json = #"{"Image":"b","HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"},{"HostIp":"::1","HostPort":""}],"53/udp":[{"HostIp":"","HostPort":""}]}}}"#
        let options = try ContainerCreateOptions(apiBody: Data(json.utf8), name: nil)
        #expect(options.publish == ["53/udp", "127.0.0.1:8080:80/tcp", "[::1]::80/tcp"])
        for spec in options.publish { #expect(throws: Never.self) { try ContainerRuntime.validatePublish([spec]) } }
    }

    @Test func mountsAndAnonymousVolumesTranslate() throws {
        let json = #"{"Image":"b","Volumes":{"/data":{}},"HostConfig":{"Mounts":[{"Type":"bind","Source":"/srv","Target":"/srv","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}},{"Type":"tmpfs","Target":"/run","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}],"MaskedPaths":[],"ReadonlyPaths":[]}}"#
        let options = try ContainerCreateOptions(apiBody: Data(json.utf8), name: nil)
        #expect(options.binds == ["/data"])
        #expect(options.mounts == ["type=bind,source=/srv,target=/srv,readonly,bind-propagation=rslave",
                                   "type=tmpfs,target=/run,tmpfs-size=1048576,tmpfs-mode=700"])
        #expect(options.unconfinedSystemPaths)
        for spec in options.mounts { #expect(throws: Never.self) { try MountParser.parseMountFlag(spec) } }
    }

    @Test func volumesDockerPyListsForItsBindsAreNotMadeAnonymous() throws {
        let json = #"{"Image":"b","Volumes":{"/var/lib/data":{},"/scratch/":{}},"HostConfig":{"Binds":["proj_data:/var/lib/data:rw"]}}"#
        let options = try ContainerCreateOptions(apiBody: Data(json.utf8), name: nil)
        #expect(options.binds == ["proj_data:/var/lib/data:rw", "/scratch/"])
    }

    @Test func resolutionChecksLimitsAsDockerdDoes() throws {
        var options = ContainerCreateOptions(image: "busybox")
        options.memory = 1 << 20
        #expect(throws: EngineError.invalidParameter("Minimum memory limit allowed is 6MB")) { try options.runOptions() }
        options.memory = 0
        options.nanoCPUs = 1_000_000
        #expect((try? options.runOptions()) == nil)
        options.nanoCPUs = 0
        options.healthcheck = HealthConfig(Test: ["CMD", "true"])
        options.healthcheck?.Interval = 1000
        #expect(throws: EngineError.invalidParameter("Interval in Healthcheck cannot be less than 1ms")) { try options.runOptions() }
        options.healthcheck = nil
        options.networkMode = "host"
        options.publish = ["80"]
        #expect(throws: EngineError.invalidParameter("published ports are discarded when using host network mode")) { try options.runOptions() }
    }

    @Test func resolutionFillsDockersDefaults() throws {
        var options = ContainerCreateOptions(image: "busybox")
        options.networkMode = "default"
        options.name = ""
        options.entrypoint = [""]
        options.pidsLimit = -1
        let run = try options.runOptions(environment: ["BERTH_RUNTIME": "crun"])
        #expect(run.hostConfig.networkMode == "bridge" && run.name == nil && run.entrypoint == [""])
        #expect(run.hostConfig.runtime == "crun" && run.hostConfig.pidsLimit == nil)
    }

    @Test func updateBodiesLeaveZeroesAloneAndRefuseWhatBerthLacks() throws {
        let update = try ResourceUpdate(apiBody: Data(#"{"Memory":67108864,"NanoCpus":0,"CpuShares":512,"BlkioWeight":0,"RestartPolicy":{"Name":"always"}}"#.utf8))
        #expect(update == ResourceUpdate(memory: 64 << 20, cpuShares: 512, restartPolicy: RestartPolicy(name: "always")))
        #expect(throws: EngineError.self) { try ResourceUpdate(apiBody: Data(#"{"BlkioWeight":300}"#.utf8)) }
        let empty = try ResourceUpdate(apiBody: Data(#"{"RestartPolicy":{}}"#.utf8))
        #expect(empty == ResourceUpdate())
    }

    @Test func signalsReadAsDockerdReadsThem() throws {
        #expect(try SignalName.parse("SIGTERM") == 15 && SignalName.parse("term") == 15 && SignalName.parse("9") == 9)
        #expect(try SignalName.parse("RTMIN+2") == 36)
        #expect(throws: EngineError.invalidParameter("Invalid signal: NOPE")) { try SignalName.parse("NOPE") }
        #expect(throws: EngineError.invalidParameter("Invalid signal: 0")) { try SignalName.parse("0") }
    }

    @Test func startFailuresHaveDockersExitCodes() {
        let missing = ContainerStartError(runtimeMessage: #"exec: "nope": executable file not found in $PATH"#, description: "x")
        #expect(missing.exitCode == 127 && EngineError.kind(of: missing) == .invalidParameter)
        #expect(ContainerStartError(runtimeMessage: "exec /etc: permission denied", description: "x").exitCode == 126)
        let other = ContainerStartError(runtimeMessage: "cgroup trouble", description: "x")
        #expect(other.exitCode == 125 && EngineError.kind(of: other) == .system)
    }

    @Test func missingImagesAreNamedAsDockerdNamesThem() {
        #expect(Engine.familiarImageName("busybox") == "busybox:latest")
        #expect(Engine.familiarImageName("docker.io/library/busybox:1") == "busybox:1")
        #expect(Engine.familiarImageName("sha256:abc") == "sha256:abc")
    }
}
