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
            ("Links", #"["other:alias"]"#), ("DeviceCgroupRules", #"["c 1:3 r"]"#), ("BlkioWeight", "500"),
            ("CpuRealtimeRuntime", "1000"), ("OomKillDisable", "true"), ("MemorySwappiness", "10"),
            ("CgroupParent", #""/mine""#), ("UsernsMode", #""host""#), ("MaskedPaths", #"["/proc/kcore"]"#),
        ]
        for (field, value) in cases {
            let error = try #require(refusal(try body(hostConfig: field, value)), "\(field) was accepted")
            #expect(error.kind == .invalidParameter)
            #expect(error.message.contains("HostConfig.\(field)"), "\(error.message)")
        }
    }

    @Test func hostSettingsTranslateToTheirOptions() throws {
        let host = #"""
            {"Image":"busybox","Domainname":"example.org","MacAddress":"02:42:0a:00:00:09","HostConfig":{
            "ContainerIDFile":"/tmp/cid","ExtraHosts":["db:10.0.0.2","gw:host-gateway"],"Dns":["9.9.9.9"],
            "DnsOptions":["ndots:2"],"DnsSearch":["example.com"],"IpcMode":"shareable","PidMode":"host","UTSMode":"host",
            "OomScoreAdj":100,"ShmSize":134217728,"Sysctls":{"net.ipv4.ip_forward":"1"},"CpuPeriod":100000,"CpuQuota":50000,
            "CpusetCpus":"0","CpusetMems":"0","MemoryReservation":33554432,"MemorySwap":-1,"VolumesFrom":["other:ro"],
            "Devices":[{"PathOnHost":"/dev/kmsg","PathInContainer":"","CgroupPermissions":""}],
            "Ulimits":[{"Name":"nofile","Soft":1000,"Hard":2000}]},
            "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":{"IPv4Address":"10.0.0.9"}}}}}
            """#
        let options = try ContainerCreateOptions(apiBody: Data(host.utf8), name: nil)
        #expect(options.domainname == "example.org" && options.macAddress == "02:42:0a:00:00:09" && options.ipv4Address == "10.0.0.9")
        #expect(options.containerIDFile == "/tmp/cid" && options.extraHosts == ["db:10.0.0.2", "gw:host-gateway"])
        #expect(options.dns == ["9.9.9.9"] && options.dnsOptions == ["ndots:2"] && options.dnsSearch == ["example.com"])
        #expect((options.ipcMode, options.pidMode, options.utsMode) == ("shareable", "host", "host"))
        #expect(options.oomScoreAdj == 100 && options.shmSize == 128 << 20 && options.sysctls == ["net.ipv4.ip_forward": "1"])
        #expect((options.cpuPeriod, options.cpuQuota, options.cpusetCpus, options.cpusetMems) == (100_000, 50_000, "0", "0"))
        #expect(options.memoryReservation == 32 << 20 && options.memorySwap == -1 && options.volumesFrom == ["other:ro"])
        #expect(options.devices == [DeviceMapping(pathOnHost: "/dev/kmsg", pathInContainer: "/dev/kmsg", cgroupPermissions: "rwm")])
        #expect(options.ulimits == [Ulimit(name: "nofile", hard: 2000, soft: 1000)])
    }

    @Test func hostFlagsParseAsTheDockerCLIParsesThem() throws {
        #expect(try Ulimit(parsing: "nofile=1000:2000") == Ulimit(name: "nofile", hard: 2000, soft: 1000))
        #expect(try Ulimit(parsing: "core=-1") == Ulimit(name: "core", hard: -1, soft: -1))
        for (text, message) in [("foo=1", "invalid ulimit type: foo"), ("nofile", "invalid ulimit argument: nofile"),
                                ("nofile=2:1", "ulimit soft limit must be less than or equal to hard limit: 2 > 1"),
                                ("nofile=1:2:3", "too many limit value arguments")] {
            let error = #expect(throws: EngineError.self) { try Ulimit(parsing: text) }
            #expect(error?.message.contains(message) == true, "\(text)")
        }
        #expect(try DeviceMapping(parsing: "/dev/kmsg") == DeviceMapping(pathOnHost: "/dev/kmsg", pathInContainer: "/dev/kmsg", cgroupPermissions: "rwm"))
        #expect(try DeviceMapping(parsing: "/dev/kmsg:r") == DeviceMapping(pathOnHost: "/dev/kmsg", pathInContainer: "/dev/kmsg", cgroupPermissions: "r"))
        #expect(try DeviceMapping(parsing: "/dev/kmsg:/dev/k:rw") == DeviceMapping(pathOnHost: "/dev/kmsg", pathInContainer: "/dev/k", cgroupPermissions: "rw"))
        #expect(throws: EngineError.self) { try DeviceMapping(parsing: "/a:/b:r:x") }
        #expect(try ExtraHost(parsing: "db:10.0.0.2").address == "10.0.0.2")
        #expect(try ExtraHost(parsing: "v6:[::1]").address == "::1")
        #expect(try ExtraHost(parsing: "gw=host-gateway").name == "gw")
        #expect(throws: EngineError.self) { try ExtraHost(parsing: "db:nowhere") }
        #expect(try PlatformText(parsing: "linux/x86_64").matches(os: "linux", architecture: "amd64"))
        #expect(try PlatformText(parsing: "linux").matches(os: "linux", architecture: "arm64"))
        #expect(!(try PlatformText(parsing: "linux/arm64").matches(os: "linux", architecture: "amd64")))
    }

    @Test func hostSettingsAreCheckedWithDockerdsMessages() throws {
        func message(_ change: (inout ContainerCreateOptions) -> Void) -> String? {
            var options = ContainerCreateOptions(image: "busybox")
            change(&options)
            do {
                _ = try options.runOptions()
                return nil
            } catch let error as EngineError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message { $0.memorySwap = 100 << 20 } == "You should always set the Memory limit when using Memoryswap limit, see usage")
        #expect(message { $0.memory = 64 << 20; $0.memorySwap = 32 << 20 } == "Minimum memoryswap limit should be larger than memory limit, see usage")
        #expect(message { $0.memory = 32 << 20; $0.memoryReservation = 64 << 20 } == "Minimum memory limit can not be less than memory reservation limit, see usage")
        #expect(message { $0.nanoCPUs = 1_000_000_000; $0.cpuPeriod = 100_000 } == "Conflicting options: Nano CPUs and CPU Period cannot both be set")
        #expect(message { $0.cpuQuota = 10 } == "CPU cfs quota can not be less than 1ms (i.e. 1000)")
        #expect(message { $0.cpusetCpus = "x" } == "Invalid value x for cpuset cpus")
        #expect(message { $0.cpusetCpus = "0-4095" }?.hasPrefix("Requested CPUs are not available - requested 0-4095, available: ") == true)
        #expect(message { $0.oomScoreAdj = -1001 } == "Invalid value -1001, range for oom score adj is [-1000, 1000]")
        #expect(message { $0.shmSize = -1 } == "SHM size can not be less than 0")
        #expect(message { $0.ipcMode = "bogus" } == "Invalid IPC mode: bogus")
        #expect(message { $0.pidMode = "container:" } == "invalid PID mode: container:")
        #expect(message { $0.utsMode = "private" } == "invalid UTS mode: private")
        #expect(message { $0.utsMode = "host"; $0.hostname = "h" } == "conflicting options: hostname and the UTS mode")
        #expect(message { $0.sysctls = ["kernel.hostname": "x"] } == "sysctl 'kernel.hostname=x' is not allowed")
        #expect(message { $0.sysctls = ["kernel.shmmax": "1", "net.core.somaxconn": "1", "fs.mqueue.msg_max": "1"] } == nil)
        #expect(message { $0.dns = ["nine"] } == "nine is not an ip address")
        #expect(message { $0.devices = [DeviceMapping(pathOnHost: "/dev/kmsg", pathInContainer: "rel", cgroupPermissions: "r")] } == "bad format for path: rel")
        #expect(message { $0.ulimits = [Ulimit(name: "nofile", hard: 1, soft: 2)] }?.contains("soft limit must be less than or equal") == true)

        var options = ContainerCreateOptions(image: "busybox")
        (options.memory, options.shmSize) = (64 << 20, 0)
        let host = try options.runOptions().hostConfig
        #expect(host.ipcMode == "private" && host.shmSize == 64 << 20 && host.extraHosts == nil && host.volumesFrom == nil)
    }

    @Test func configAndNetworkingFieldsAreRefusedToo() throws {
        let disabled = dockerCLIBody.replacingOccurrences(of: #""Domainname":"""#, with: #""NetworkDisabled":true,"Domainname":"""#)
        #expect(refusal(Data(disabled.utf8))?.message.contains("NetworkDisabled") == true)
        let linkLocal = dockerCLIBody.replacingOccurrences(of: #""IPAMConfig":null"#, with: #""IPAMConfig":{"LinkLocalIPs":["169.254.0.9"]}"#)
        #expect(refusal(Data(linkLocal.utf8))?.message.contains("NetworkingConfig.EndpointsConfig.default.IPAMConfig.LinkLocalIPs") == true)
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
