import Foundation
import Glibc
import Testing

/// The `run`/`create` flags of Docker's host settings, each checked inside the container (files,
/// limits, namespaces, cgroups) and in `inspect`, against the peer Docker daemon running the same
/// command where it can.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct RunFlagsTests {
    /// Runs the same `run --rm` in Berth and in the peer; both must succeed.
    private func both(_ sandbox: BerthSandbox, _ arguments: [String]) throws -> (berth: String, docker: String) {
        let berth = try sandbox.run(["run", "--rm"] + arguments)
        #expect(berth.succeeded, "\(berth)")
        try PeerDocker.start()
        let docker = try Command.run("docker", ["run", "--rm"] + arguments, environment: PeerDocker.environment)
        #expect(docker.succeeded, "\(docker)")
        return (berth.out, docker.out)
    }

    /// `inspect -f '{{json .HostConfig.X}}'` (or any template) of a Berth and a peer container.
    private func field(_ sandbox: BerthSandbox, _ berthName: String, _ dockerName: String, _ template: String) throws
        -> (berth: String, docker: String) {
        let berth = try sandbox.ok("inspect", "-f", template, berthName)
        let docker = try PeerDocker.checked("inspect", "-f", template, dockerName)
        return (berth.trimmingCharacters(in: .whitespacesAndNewlines), docker)
    }

    private func createBoth(_ sandbox: BerthSandbox, name: String, _ arguments: [String]) throws {
        _ = try? PeerDocker.docker("rm", "-f", name)
        try sandbox.ok(["create", "--name", name] + arguments)
        try PeerDocker.checked(["create", "--name", name] + arguments)
    }

    @Test func addHostDnsAndDomainnameWriteTheEtcFilesAsDockerDoes() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let flags = ["--hostname", "h1", "--domainname", "example.org", "--add-host", "foo:1.2.3.4",
                     "--add-host", "gw:host-gateway", "--dns", "9.9.9.9", "--dns-search", "example.com",
                     "--dns-option", "ndots:2", "busybox", "sh", "-c",
                     "cat /etc/hosts /etc/resolv.conf; cat /proc/sys/kernel/domainname; hostname -i"]
        let (berth, docker) = try both(sandbox, flags)
        // Each daemon's gateway (`host-gateway`) and the container's own address differ by design.
        func normalized(_ output: String) -> String {
            var lines = output.split(separator: "\n").map(String.init)
            let own = lines.removeLast()
            return lines.map { line in
                if line.hasSuffix("\tgw") { return "GATEWAY\tgw" }
                return line.hasPrefix(own + "\t") ? "SELF" + line.dropFirst(own.count) : line
            }.joined(separator: "\n")
        }
        #expect(normalized(berth) == normalized(docker))
        #expect(berth.contains("1.2.3.4\tfoo\n10.77.0.1\tgw\n"))
        #expect(berth.contains("search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"))
        #expect(berth.contains("\th1.example.org h1\n"))

        try createBoth(sandbox, name: "h14-dns", Array(flags.dropLast(3)) + ["true"])
        for template in ["{{json .HostConfig.ExtraHosts}}", "{{json .HostConfig.Dns}}", "{{json .HostConfig.DnsSearch}}",
                         "{{json .HostConfig.DnsOptions}}", "{{json .Config.Domainname}}"] {
            let (mine, theirs) = try field(sandbox, "h14-dns", "h14-dns", template)
            #expect(mine == theirs, "\(template)")
        }
        try PeerDocker.checked("rm", "h14-dns")
        let bad = try sandbox.run("run", "--rm", "--add-host", "foo:notanip", "busybox", "true")
        #expect(!bad.succeeded && bad.err.contains("invalid IP address in add-host: \"notanip\""), "\(bad)")
    }

    @Test func ulimitShmSizeSysctlAndOomScoreReachTheProcess() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let flags = ["--ulimit", "nofile=1000:2000", "--ulimit", "core=0:0", "--shm-size", "128m",
                     "--sysctl", "net.ipv4.ip_forward=0", "--sysctl", "kernel.shmmni=2048", "--oom-score-adj", "100",
                     "busybox", "sh", "-c",
                     "ulimit -n; ulimit -Hn; ulimit -c; df -k /dev/shm | tail -1 | awk '{print $2}'; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj"]
        let (berth, docker) = try both(sandbox, flags)
        #expect(berth == "1000\n2000\n0\n131072\n0\n2048\n100\n")
        #expect(berth == docker)

        try createBoth(sandbox, name: "h14-limits", Array(flags.dropLast(3)) + ["true"])
        for template in ["{{json .HostConfig.Ulimits}}", "{{json .HostConfig.ShmSize}}", "{{json .HostConfig.Sysctls}}",
                         "{{json .HostConfig.OomScoreAdj}}"] {
            let (mine, theirs) = try field(sandbox, "h14-limits", "h14-limits", template)
            #expect(mine == theirs, "\(template)")
        }
        try PeerDocker.checked("rm", "h14-limits")

        // Docker's default /dev/shm, 64 MiB, and its refusals.
        #expect(try sandbox.ok("run", "--rm", "busybox", "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'") == "65536\n")
        let sysctl = try sandbox.run("run", "--rm", "--sysctl", "kernel.hostname=x", "busybox", "true")
        #expect(!sysctl.succeeded && sysctl.err.contains("sysctl 'kernel.hostname=x' is not allowed"), "\(sysctl)")
        let ulimit = try sandbox.run("run", "--rm", "--ulimit", "foo=1", "busybox", "true")
        #expect(!ulimit.succeeded && ulimit.err.contains("invalid ulimit type: foo"), "\(ulimit)")
        let oom = try sandbox.run("run", "--rm", "--oom-score-adj", "1001", "busybox", "true")
        #expect(!oom.succeeded && oom.err.contains("Invalid value 1001, range for oom score adj is [-1000, 1000]"), "\(oom)")
    }

    @Test func deviceAppearsWithItsCgroupPermissions() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        // /dev/kmsg is not among the devices every container may use: only the mapping allows it.
        let script = "ls -l /dev/mykmsg | awk '{print $1, $5, $6}'; (echo x > /dev/mykmsg) 2>/dev/null; echo write=$?; (exec 3</dev/mykmsg); echo read=$?"
        let (berth, docker) = try both(sandbox, ["--device", "/dev/kmsg:/dev/mykmsg:r", "busybox", "sh", "-c", script])
        #expect(berth.hasPrefix("crw-r--r-- 1, 11\nwrite=1\n"), "\(berth)")
        #expect(berth == docker)

        try createBoth(sandbox, name: "h14-dev", ["--device", "/dev/kmsg:/dev/mykmsg:r", "busybox", "true"])
        let (mine, theirs) = try field(sandbox, "h14-dev", "h14-dev", "{{json .HostConfig.Devices}}")
        #expect(mine == theirs)
        #expect(mine == #"[{"PathOnHost":"/dev/kmsg","PathInContainer":"/dev/mykmsg","CgroupPermissions":"r"}]"#)
        try PeerDocker.checked("rm", "h14-dev")

        let missing = try sandbox.run("run", "--rm", "--device", "/dev/h14-none", "busybox", "true")
        #expect(!missing.succeeded, "\(missing)")
        #expect(missing.err.contains(#"error gathering device information while adding custom device "/dev/h14-none": no such file or directory"#), "\(missing)")
    }

    @Test func ipcPidAndUtsModesShareOrLeaveNamespaces() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let hostIPC = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/ipc")
        let hostPID = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        #expect(try sandbox.ok("run", "--rm", "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc") == hostIPC + "\n")
        #expect(try sandbox.ok("run", "--rm", "--pid", "host", "busybox", "readlink", "/proc/self/ns/pid") == hostPID + "\n")
        #expect(try sandbox.ok("run", "--rm", "--ipc", "none", "busybox", "sh", "-c", "test -e /dev/shm/. || echo none") == "none\n")
        var name = utsname()
        uname(&name)
        let hostName = withUnsafeBytes(of: name.nodename) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        #expect(try sandbox.ok("run", "--rm", "--uts", "host", "busybox", "hostname") == hostName + "\n")

        // A shareable container's IPC namespace and /dev/shm are joined by `container:NAME`.
        try sandbox.ok("run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "300")
        try sandbox.ok("exec", "donor", "sh", "-c", "echo shared > /dev/shm/mark")
        let donorIPC = try sandbox.ok("exec", "donor", "readlink", "/proc/self/ns/ipc")
        #expect(try sandbox.ok("run", "--rm", "--ipc", "container:donor", "busybox", "sh", "-c",
                               "readlink /proc/self/ns/ipc; cat /dev/shm/mark") == donorIPC + "shared\n")
        let donorPID = try sandbox.ok("exec", "donor", "readlink", "/proc/1/ns/pid")
        #expect(try sandbox.ok("run", "--rm", "--pid", "container:donor", "busybox", "sh", "-c",
                               "readlink /proc/self/ns/pid; cat /proc/1/cmdline | tr '\\0' ' '; echo") == donorPID + "sleep 300 \n")

        // A private one's is not, with dockerd's hint.
        try sandbox.ok("run", "-d", "--name", "private", "busybox", "sleep", "300")
        let refused = try sandbox.run("run", "--rm", "--ipc", "container:private", "busybox", "true")
        #expect(!refused.succeeded && refused.err.contains("non-shareable IPC (hint: use IpcMode:shareable for the donor container)"), "\(refused)")
        let missing = try sandbox.run("create", "--pid", "container:h14-nothing", "busybox", "true")
        #expect(!missing.succeeded && missing.err.contains("No such container: h14-nothing"), "\(missing)")
        let bad = try sandbox.run("create", "--ipc", "bogus", "busybox", "true")
        #expect(!bad.succeeded && bad.err.contains("Invalid IPC mode: bogus"), "\(bad)")

        try createBoth(sandbox, name: "h14-ns", ["--ipc", "shareable", "--pid", "host", "--uts", "host", "busybox", "true"])
        for template in ["{{json .HostConfig.IpcMode}}", "{{json .HostConfig.PidMode}}", "{{json .HostConfig.UTSMode}}"] {
            let (mine, theirs) = try field(sandbox, "h14-ns", "h14-ns", template)
            #expect(mine == theirs, "\(template)")
        }
        try PeerDocker.checked("rm", "h14-ns")
    }

    @Test func cgroupLimitsAreWrittenAsDockerWritesThem() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let flags = ["--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpu-shares", "512",
                     "--cpu-quota", "50000", "--cpu-period", "100000", "--cpuset-cpus", "0", "--cpuset-mems", "0"]
        _ = try? PeerDocker.docker("rm", "-f", "h14-cg")
        try sandbox.ok(["run", "-d", "--name", "h14-cg"] + flags + ["busybox", "sleep", "300"])
        try PeerDocker.checked(["run", "-d", "--name", "h14-cg"] + flags + ["busybox", "sleep", "300"])
        let berthID = try sandbox.ok("inspect", "-f", "{{.Id}}", "h14-cg").trimmingCharacters(in: .whitespacesAndNewlines)
        let dockerID = try PeerDocker.checked("inspect", "-f", "{{.Id}}", "h14-cg")
        let files = ["memory/memory.limit_in_bytes", "memory/memory.soft_limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
                     "cpu/cpu.shares", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "cpuset/cpuset.cpus", "cpuset/cpuset.mems"]
        for file in files where access("/sys/fs/cgroup/" + file, F_OK) == 0 {
            let (controller, name) = (file.split(separator: "/")[0], file.split(separator: "/")[1])
            let mine = try String(contentsOfFile: "/sys/fs/cgroup/\(controller)/berth/\(berthID)/\(name)", encoding: .utf8)
            let theirs = try String(contentsOfFile: "/sys/fs/cgroup/\(controller)/docker/\(dockerID)/\(name)", encoding: .utf8)
            #expect(mine == theirs, "\(file)")
        }
        for template in ["{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}}",
                         "{{.HostConfig.CpuShares}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}",
                         "{{json .HostConfig.CpusetCpus}} {{json .HostConfig.CpusetMems}}"] {
            let (mine, theirs) = try field(sandbox, "h14-cg", "h14-cg", template)
            #expect(mine == theirs, "\(template)")
        }
        try PeerDocker.checked("rm", "-f", "h14-cg")

        // dockerd's refusals, in its words.
        for (arguments, message) in [
            (["--memory-swap", "128m"], "You should always set the Memory limit when using Memoryswap limit, see usage"),
            (["--memory", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger than memory limit, see usage"),
            (["--memory", "32m", "--memory-reservation", "64m"], "Minimum memory limit can not be less than memory reservation limit, see usage"),
            (["--cpus", "1", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
            (["--cpu-period", "10"], "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
        ] {
            let mine = try sandbox.run(["create"] + arguments + ["busybox", "true"])
            let theirs = try PeerDocker.docker(["create"] + arguments + ["busybox", "true"])
            #expect(!mine.succeeded && mine.err.contains(message), "\(mine)")
            #expect(!theirs.succeeded && theirs.err.contains(message), "\(theirs)")
        }
    }

    @Test func exposeLabelFileCidfileAndPlatform() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try createBoth(sandbox, name: "h14-expose", ["--expose", "7000-7001/udp", "--expose", "80", "-p", "8080:90", "busybox", "true"])
        let (mine, theirs) = try field(sandbox, "h14-expose", "h14-expose", "{{json .Config.ExposedPorts}}")
        #expect(mine == theirs)
        #expect(mine == #"{"7000/udp":{},"7001/udp":{},"80/tcp":{},"90/tcp":{}}"#)
        try PeerDocker.checked("rm", "h14-expose")

        // --label-file and --env-file read any readable file: /dev/null and a pipe.
        let script = """
            \(BerthSandbox.binary) --root \(sandbox.root) create --name labelled --label-file /dev/null \
                --label-file <(printf 'a=1\\n# note\\nb\\n') --env-file /dev/null --env-file <(echo FOO=bar) busybox true
            \(BerthSandbox.binary) --root \(sandbox.root) inspect -f '{{json .Config.Labels}} {{json .Config.Env}}' labelled
            """
        let piped = try Command.shell(script)
        #expect(piped.succeeded, "\(piped)")
        #expect(piped.lines.last == #"{"a":"1","b":""} ["FOO=bar"]"#, "\(piped)")

        let cidfile = sandbox.scratch + "/cid"
        let id = try sandbox.ok("run", "-d", "--cidfile", cidfile, "busybox", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try String(contentsOfFile: cidfile, encoding: .utf8) == id)
        #expect(try sandbox.ok("inspect", "-f", "{{.HostConfig.ContainerIDFile}}", id) == cidfile + "\n")
        let again = try sandbox.run("run", "-d", "--cidfile", cidfile, "busybox", "true")
        #expect(again.status == 125, "\(again)")
        #expect(again.err.contains("Container ID file found, make sure the other container isn't running or delete \(cidfile)"))

        #expect(try sandbox.ok("run", "--rm", "--platform", "linux/amd64", "busybox", "echo", "ok") == "ok\n")
        let other = try sandbox.run("run", "--rm", "--platform", "linux/arm64", "busybox", "true")
        #expect(other.status == 125, "\(other)")
        #expect(other.err.contains("does not match the specified platform: wanted linux/arm64, actual: linux/amd64"), "\(other)")
    }

    @Test func ipRangeIpAndMacAddressOnAUserNetwork() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let net = "10.197"
        try sandbox.ok("network", "create", "--subnet", "\(net).0.0/16", "--ip-range", "\(net).5.0/24", "ranged")
        defer {
            _ = try? sandbox.run("rm", "-f", "fixed")
            _ = try? sandbox.run("network", "rm", "ranged", "auto")
        }
        // Docker's IPAM hands out the range's addresses from its first host address.
        #expect(try sandbox.ok("run", "--rm", "--network", "ranged", "busybox", "sh", "-c",
                               "ip -4 -o addr show eth0 | awk '{print $4}'") == "\(net).5.1/16\n")
        try sandbox.ok("run", "-d", "--name", "fixed", "--network", "ranged", "--ip", "\(net).9.9",
                       "--mac-address", "02:42:0a:61:09:09", "busybox", "sleep", "300")
        #expect(try sandbox.ok("exec", "fixed", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address")
                == "\(net).9.9/16\n02:42:0a:61:09:09\n")
        #expect(try sandbox.ok("inspect", "-f", "{{json .NetworkSettings.Networks.ranged.IPAMConfig}} {{.Config.MacAddress}}", "fixed")
                == #"{"IPv4Address":"\#(net).9.9"} 02:42:0a:61:09:09"# + "\n")
        let taken = try sandbox.run("run", "--rm", "--network", "ranged", "--ip", "\(net).9.9", "busybox", "true")
        #expect(!taken.succeeded && taken.err.contains("Address already in use"), "\(taken)")
        #expect(try sandbox.ok("network", "inspect", "-f", "{{json .IPAM.Config}}", "ranged") == #"[{"Subnet":"\#(net).0.0/16","IPRange":"\#(net).5.0/24"}]"# + "\n")

        // dockerd's refusals of --ip where it cannot apply.
        for network in ["bridge", "auto"] {
            if network == "auto" { try sandbox.ok("network", "create", "auto") }
            _ = try? PeerDocker.docker("network", "create", "auto")
            let mine = try sandbox.run("create", "--network", network, "--ip", "10.1.2.3", "busybox", "true")
            // dockerd 20.10 refuses it at the start (newer ones at create).
            let theirs = try PeerDocker.docker("run", "--rm", "--network", network, "--ip", "10.1.2.3", "busybox", "true")
            let message = network == "bridge" ? "user specified IP address is supported on user defined networks only"
                : "user specified IP address is supported only when connecting to networks with user configured subnets"
            #expect(!mine.succeeded && mine.err.contains(message), "\(mine)")
            #expect(!theirs.succeeded && theirs.err.contains(message), "\(theirs)")
        }
        _ = try? PeerDocker.docker("network", "rm", "auto")
    }

    @Test func internalNetworkHasNoWayOutAndOptionsNameTheBridge() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let id = try sandbox.ok("network", "create", "--internal", "-o", "com.docker.network.bridge.name=h14-int0", "inside")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            _ = try? sandbox.run("rm", "-f", "a")
            _ = try? sandbox.run("network", "rm", "inside")
        }
        try sandbox.ok("run", "-d", "--name", "a", "--network", "inside", "busybox", "sleep", "300")
        // No default route, as Docker gives none on an internal network; the peers still meet.
        #expect(try sandbox.ok("run", "--rm", "--network", "inside", "busybox", "sh", "-c", "ip route | grep -c default || true") == "0\n")
        #expect(try sandbox.run("run", "--rm", "--network", "inside", "busybox", "ping", "-c", "1", "-W", "5", "a").succeeded)
        #expect(try sandbox.ok("network", "inspect", "-f", "{{.Internal}} {{json .Options}}", "inside")
                == #"true {"com.docker.network.bridge.name":"h14-int0"}"# + "\n")
        #expect(access("/sys/class/net/h14-int0", F_OK) == 0)
        let rules = try Command.run("iptables", ["-S", "BERTH-FORWARD"])
        #expect(rules.out.contains("-A BERTH-FORWARD -i h14-int0 ! -o h14-int0 -j DROP"), "\(rules)")
        let nat = try Command.run("iptables", ["-t", "nat", "-S", "BERTH-MASQ-h14-int0"])
        #expect(!nat.out.contains("MASQUERADE"), "\(nat)")
        try sandbox.ok("rm", "-f", "a")
        try sandbox.ok("network", "rm", id)
        #expect(access("/sys/class/net/h14-int0", F_OK) != 0)
    }

    @Test func volumesFromTakesAnotherContainersMounts() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try sandbox.ok("run", "-d", "--name", "source", "-v", "/data", "busybox", "sleep", "300")
        try sandbox.ok("exec", "source", "sh", "-c", "echo shared > /data/file")
        #expect(try sandbox.ok("run", "--rm", "--volumes-from", "source", "busybox", "sh", "-c", "cat /data/file; echo more > /data/more")
                == "shared\n")
        #expect(try sandbox.ok("exec", "source", "cat", "/data/more") == "more\n")
        let readOnly = try sandbox.run("run", "--rm", "--volumes-from", "source:ro", "busybox", "touch", "/data/x")
        #expect(!readOnly.succeeded && readOnly.err.contains("Read-only file system"), "\(readOnly)")
        try sandbox.ok("create", "--name", "taker", "--volumes-from", "source", "busybox", "true")
        #expect(try sandbox.ok("inspect", "-f", "{{json .HostConfig.VolumesFrom}}", "taker") == #"["source"]"# + "\n")
        // The volume stays the source's: removing the taker with -v leaves it.
        let volume = try sandbox.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "source").trimmingCharacters(in: .whitespacesAndNewlines)
        try sandbox.ok("rm", "-v", "taker")
        #expect(try sandbox.run("volume", "inspect", volume).succeeded)
    }

    @Test func attachChoosesTheStreamsAndSigProxyCanBeOff() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let script = ["busybox", "sh", "-c", "echo out; echo err >&2"]
        for stream in ["stdout", "stderr"] {
            let mine = try sandbox.run(["run", "--rm", "-a", stream] + script)
            let theirs = try PeerDocker.docker(["run", "--rm", "-a", stream] + script)
            #expect(mine.out == theirs.out && mine.err == theirs.err, "\(mine) \(theirs)")
        }
        // Without the proxy, a signal to the client leaves the container running.
        // The client handles SIGTERM (its signal source catches it) once it follows the run.
        func catchesTerm(_ process: Command.Running) -> Bool {
            let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
            let mask = status.split(separator: "\n").first { $0.hasPrefix("SigCgt:") }.flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
            return (mask ?? 0) & (1 << (UInt64(SIGTERM) - 1)) != 0
        }
        let client = try sandbox.start(["run", "--name", "unproxied", "--sig-proxy=false", "busybox", "sleep", "300"])
        while client.isRunning, !catchesTerm(client) { usleep(20_000) }
        client.kill(SIGTERM)
        #expect(client.wait().status == 128 + SIGTERM)
        #expect(try sandbox.ok("inspect", "-f", "{{.State.Running}}", "unproxied") == "true\n")
        // With it (the default), the container gets the signal.
        let proxied = try sandbox.start(["run", "--name", "proxied", "busybox", "sh", "-c", "trap 'exit 3' TERM; sleep 300 & wait"])
        // The container's shell traps SIGTERM once it has started its sleep.
        func sleeping() throws -> Bool {
            try sandbox.run("exec", "proxied", "sh", "-c", "ps | grep -c '[s]leep 300'").out != "0\n"
        }
        while proxied.isRunning, try !catchesTerm(proxied) || !sleeping() { usleep(20_000) }
        proxied.kill(SIGTERM)
        #expect(proxied.wait().status == 3)
    }

    @Test func psSizeLastAndLatest() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try sandbox.ok("create", "--name", "first", "busybox", "true")
        try sandbox.ok("run", "--name", "second", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /file")
        try sandbox.ok("create", "--name", "third", "busybox", "true")
        #expect(try sandbox.ok("ps", "-n", "2", "--format", "{{.Names}}") == "third\nsecond\n")
        #expect(try sandbox.ok("ps", "-l", "--format", "{{.Names}}") == "third\n")
        let table = try sandbox.ok("ps", "-a", "-s")
        #expect(table.split(separator: "\n").first?.hasSuffix("   SIZE") == true, "\(table)")
        // The writable layer's size, then the image's and its together, as Docker's SIZE shows them.
        let sizes = try sandbox.ok("ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}").split(separator: "\n")
        #expect(sizes.count == 3 && sizes.allSatisfy { $0.hasSuffix("MB)") }, "\(sizes)")
        #expect(sizes.contains { $0.hasPrefix("first 0B (virtual 1.") }, "\(sizes)")
        #expect(sizes.contains { $0.hasPrefix("second 5kB (virtual 1.") }, "\(sizes)")
    }

    @Test func stopAndRestartTakeTimeout() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try sandbox.ok("run", "-d", "--name", "t", "busybox", "sleep", "300")
        try sandbox.ok("restart", "--timeout", "0", "t")
        #expect(try sandbox.ok("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", "t").hasPrefix("true"))
        try sandbox.ok("stop", "--timeout", "0", "t")
        #expect(try sandbox.ok("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "t") == "false 137\n")
    }
}
