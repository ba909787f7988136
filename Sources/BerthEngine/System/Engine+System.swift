import BerthFiles
import BerthOCI
import BerthProcess
import BerthRuntime
import BerthTemplate
import Foundation
import Glibc

/// `info` and `system df`: what this engine holds and what the host offers, in dockerd's terms.
extension Engine {
    /// Berth's release, which `/version` and `/info` report as the server's version (the API
    /// version they report is the Engine API's, negotiated separately).
    public static let version = "0.1.0"

    /// The storage driver Berth reports: layers unpacked once and mounted as overlay lower
    /// directories, which is what dockerd's `overlay2` does (and the name inspect's GraphDriver
    /// gives).
    public static let storageDriver = "overlay2"

    /// Docker's `/info` document, in its field order.
    public func info() throws -> OrderedJSON {
        let records = try runtime.containers.records()
        func count(_ statuses: Set<ContainerRecord.Status>) -> OrderedJSON {
            .int(records.filter { statuses.contains($0.state.status) }.count)
        }
        let layout = CgroupLayout.detect()
        let release = Self.osRelease()
        let installed = Set(["runc", "crun"].filter { Self.executableOnPath($0) })
        var security: [String] = ["name=seccomp,profile=builtin"]
        if layout == .v2 { security.append("name=cgroupns") }
        var warnings: [String] = []
        if !Self.readFlag("/proc/sys/net/ipv4/ip_forward") { warnings.append("WARNING: IPv4 forwarding is disabled") }
        let strings: ([String]) -> OrderedJSON = { .array($0.map(OrderedJSON.string)) }
        return .object([
            ("ID", .string(try engineID())),
            ("Containers", .int(records.count)),
            ("ContainersRunning", count([.running, .restarting])),
            ("ContainersPaused", count([.paused])),
            ("ContainersStopped", count([.created, .exited, .dead, .removing])),
            ("Images", .int(try store().images().count)),
            ("Driver", .string(Self.storageDriver)),
            ("DriverStatus", .array([
                .array([.string("Backing Filesystem"), .string(Self.filesystemName(root))]),
                .array([.string("Supports d_type"), .string("true")]),
                .array([.string("Using metacopy"), .string("false")]),
            ])),
            ("Plugins", .object([
                ("Volume", strings(["local"])), ("Network", strings(["bridge", "host", "null"])),
                ("Authorization", .null), ("Log", strings(["json-file"])),
            ])),
            ("MemoryLimit", .bool(true)),
            ("SwapLimit", .bool(Self.swapLimitSupported(layout))),
            ("CpuCfsPeriod", .bool(true)),
            ("CpuCfsQuota", .bool(true)),
            ("CPUShares", .bool(true)),
            ("CPUSet", .bool(true)),
            ("PidsLimit", .bool(true)),
            ("IPv4Forwarding", .bool(Self.readFlag("/proc/sys/net/ipv4/ip_forward"))),
            ("Debug", .bool(false)),
            ("NFd", .int(Self.openDescriptors())),
            ("OomKillDisable", .bool(layout != .v2)),
            ("NGoroutines", .int(0)),
            ("SystemTime", .string(Timestamp.format(Date()))),
            ("LoggingDriver", .string("json-file")),
            ("CgroupDriver", .string("cgroupfs")),
            ("CgroupVersion", .string(layout == .v2 ? "2" : "1")),
            ("NEventsListener", .int(0)),
            ("KernelVersion", .string(SystemFacts.kernelVersion)),
            ("OperatingSystem", .string(release["PRETTY_NAME"] ?? "Linux")),
            ("OSVersion", .string(release["VERSION_ID"] ?? "")),
            ("OSType", .string("linux")),
            ("Architecture", .string(SystemFacts.machine)),
            ("IndexServerAddress", .string("https://index.docker.io/v1/")),
            ("RegistryConfig", .object([
                ("InsecureRegistryCIDRs", strings(["::1/128", "127.0.0.0/8"])),
                ("IndexConfigs", .object([("docker.io", .object([
                    ("Name", .string("docker.io")), ("Mirrors", strings([])), ("Secure", .bool(true)), ("Official", .bool(true)),
                ]))])),
                ("Mirrors", strings([])),
            ])),
            ("NCPU", .int(ProcessInfo.processInfo.activeProcessorCount)),
            ("MemTotal", .int(ProcessInfo.processInfo.physicalMemory)),
            ("GenericResources", .null),
            ("DockerRootDir", .string(root)),
            ("HttpProxy", .string("")),
            ("HttpsProxy", .string("")),
            ("NoProxy", .string("")),
            ("Name", .string(ProcessInfo.processInfo.hostName)),
            ("Labels", strings([])),
            ("ExperimentalBuild", .bool(false)),
            ("ServerVersion", .string(Self.version)),
            ("Runtimes", .object(Runc.supported.filter(installed.contains).map { ($0, .object([("path", .string($0))])) })),
            ("DefaultRuntime", .string("runc")),
            ("Swarm", .object([
                ("NodeID", .string("")), ("NodeAddr", .string("")), ("LocalNodeState", .string("inactive")),
                ("ControlAvailable", .bool(false)), ("Error", .string("")), ("RemoteManagers", .null),
            ])),
            // Each container has its own monitor process: containers outlive the daemon.
            ("LiveRestoreEnabled", .bool(true)),
            ("Isolation", .string("")),
            ("InitBinary", .string("")),
            ("ContainerdCommit", .object([("ID", .string(""))])),
            ("RuncCommit", .object([("ID", .string(Self.runcVersion()?.commit ?? ""))])),
            ("InitCommit", .object([("ID", .string(""))])),
            ("SecurityOptions", strings(security)),
            ("CDISpecDirs", strings([])),
            ("Warnings", strings(warnings)),
        ])
    }

    /// dockerd's `/version` document, in its field order, for an Engine API that speaks
    /// `apiVersion` down to `minimumAPIVersion`: the Engine component, then the OCI runtime's.
    public static func versionDocument(apiVersion: String, minimumAPIVersion: String) -> OrderedJSON {
        let details: [(String, String)] = [
            ("ApiVersion", apiVersion), ("Arch", SystemFacts.goArchitecture), ("BuildTime", ""),
            ("Experimental", "false"), ("GitCommit", "berth"), ("GoVersion", "swift"),
            ("KernelVersion", SystemFacts.kernelVersion), ("MinAPIVersion", minimumAPIVersion), ("Os", "linux"),
        ]
        var components: [OrderedJSON] = [.object([
            ("Name", .string("Engine")), ("Version", .string(version)),
            ("Details", .object(details.map { ($0.0, .string($0.1)) })),
        ])]
        if let runc = runcVersion() {
            components.append(.object([
                ("Name", .string("runc")), ("Version", .string(runc.version)),
                ("Details", .object([("GitCommit", .string(runc.commit))])),
            ]))
        }
        return .object([
            ("Platform", .object([("Name", .string("Berth"))])),
            ("Components", .array(components)),
            ("Version", .string(version)),
            ("ApiVersion", .string(apiVersion)),
            ("MinAPIVersion", .string(minimumAPIVersion)),
            ("GitCommit", .string("berth")),
            ("GoVersion", .string("swift")),
            ("Os", .string("linux")),
            ("Arch", .string(SystemFacts.goArchitecture)),
            ("KernelVersion", .string(SystemFacts.kernelVersion)),
            ("BuildTime", .string("")),
        ])
    }

    /// runc's version and commit, from `runc --version` ("runc version 1.1.5", "commit: …").
    private static func runcVersion() -> (version: String, commit: String)? {
        guard let output = try? Spawn.run(["runc", "--version"]), output.status == 0 else { return nil }
        var version = ""
        var commit = ""
        for line in output.stdoutText.split(separator: "\n") {
            if line.hasPrefix("runc version ") { version = String(line.dropFirst("runc version ".count)) }
            if line.hasPrefix("commit: ") { commit = String(line.dropFirst("commit: ".count)) }
        }
        return version.isEmpty ? nil : (version, commit)
    }

    /// This root's engine ID, made on first use (dockerd keeps one per data root too).
    public func engineID() throws -> String {
        let path = StateRoot(root).engineID
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), !existing.isEmpty {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let id = UUID().uuidString.lowercased()
        // Exclusive creation: of two processes making it at once, both end up with the winner's.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor >= 0 {
            let line = Array((id + "\n").utf8)
            let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            if written == line.count { return id }
            unlink(path)
            throw EngineError(.system, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard errno == EEXIST, let winner = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw EngineError(.system, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return winner.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func osRelease() -> [String: String] {
        guard let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return [:] }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = line[line.index(after: equals)...]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            fields[String(line[..<equals])] = String(value)
        }
        return fields
    }

    private static func executableOnPath(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }

    private static func readFlag(_ path: String) -> Bool {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// Swap limits need the v1 memory controller's memsw files (or v2's memory.swap.max).
    private static func swapLimitSupported(_ layout: CgroupLayout) -> Bool {
        layout == .v2 ? true : access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0
    }

    private static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// The file system under `path`, in dockerd's words: the type of the mount that holds it
    /// (the longest mount point that is a prefix of the path, from /proc/self/mountinfo).
    private static func filesystemName(_ path: String) -> String {
        var best: (length: Int, type: String) = (-1, "<unknown>")
        for entry in MountTable.entries() {
            let mountPoint = entry.mountPoint
            let contains = mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
            if contains, mountPoint.count >= best.length { best = (mountPoint.count, entry.type) }
        }
        return ["ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "overlay": "overlayfs"][best.type] ?? best.type
    }
}
