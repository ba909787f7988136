import BerthArchive
import BerthOCI
import BerthRuntime
import BerthStore
import Foundation
import Glibc

/// A temporary Berth root with the busybox image imported, and a runtime whose monitor is the
/// berth-monitor built next to the tests (or next to `BERTH_BIN`).
final class RuntimeFixture {
    let root: String
    let store: Store
    let runtime: ContainerRuntime

    /// Why the integration tests cannot run here, or nil if they can.
    static let skipReason: String? = {
        if getuid() != 0 { return "not root: containers need root (mounts, namespaces, cgroups)" }
        if berthBinary == nil { return "no berth binary next to the tests: build it (swift build) or set BERTH_BIN" }
        if monitorBinary == nil { return "no berth-monitor next to \(berthBinary ?? "berth"): build it (swift build)" }
        if busyboxRootfs == nil { return "no busybox rootfs: run scripts/make-base-images.sh images-cache busybox" }
        if (try? runCommand("runc", "--version")) != 0 { return "runc is not installed" }
        return nil
    }()

    /// Why containers cannot get the bridge network and published ports here, or nil if they can.
    static let bridgeSkipReason: String? = {
        for plugin in ["bridge", "host-local", "loopback"]
        where access("/usr/lib/cni/\(plugin)", X_OK) != 0 {
            return "CNI plugin \(plugin) is missing (apt-get install containernetworking-plugins)"
        }
        if (try? runCommand("iptables", "--version")) != 0 { return "iptables is not installed" }
        return nil
    }()

    /// Reports a skipped test loudly, so a green run without root is not mistaken for coverage.
    static func skipped(_ test: String = #function) -> Bool {
        guard let skipReason else { return false }
        print("SKIPPED \(test): \(skipReason)")
        return true
    }

    static let berthBinary: String? = {
        if let path = ProcessInfo.processInfo.environment["BERTH_BIN"], access(path, X_OK) == 0 { return path }
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("berth").path
            if access(candidate, X_OK) == 0 { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    /// The `berth-monitor` installed next to `berth`, as the CLI finds it.
    static let monitorBinary: String? = berthBinary.flatMap { berth in
        let candidate = URL(fileURLWithPath: berth).deletingLastPathComponent().appendingPathComponent("berth-monitor").path
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    static let busyboxRootfs: String? = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("images-cache/busybox-rootfs.tar").path
            if access(candidate, R_OK) == 0 { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    init() throws {
        root = "/tmp/berth-runtime-test-" + UUID().uuidString.prefix(8).lowercased()
        store = try Store(root: root)
        _ = try store.importImage(from: FileSource(path: Self.busyboxRootfs ?? ""), sourceName: "-", message: nil,
                                  tag: try Reference(parsing: "busybox")) { config in
            config.Cmd = ["sh"]
        }
        runtime = try ContainerRuntime(root: root, monitorExecutable: Self.monitorBinary ?? "")
    }

    deinit {
        for record in (try? runtime.list()) ?? [] { try? runtime.remove(record.id, force: true) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Options for a busybox container without networking (the network module has its own tests).
    func options(_ command: [String], _ change: (inout RunOptions) -> Void = { _ in }) -> RunOptions {
        var options = RunOptions(image: "busybox", command: command)
        options.hostConfig.networkMode = "none"
        change(&options)
        return options
    }

    /// Creates a container from the fixture's store, as `berth create` does.
    func create(_ options: RunOptions) throws -> ContainerRecord {
        let image = try store.image(named: options.image)
        let config = try store.config(of: image).config ?? ContainerConfig()
        return try runtime.create(options, image: ContainerImage(id: image.id.description, config: config,
                                                                 layers: store.unpack(image)))
    }

    /// Creates, starts and waits for a container; its record and exit code.
    func run(_ command: [String], _ change: (inout RunOptions) -> Void = { _ in }) throws -> (ContainerRecord, Int32?) {
        let record = try create(options(command, change))
        let code = try runtime.start(record.id).waitForExit()
        return (record, code)
    }

    /// The container's log as (stream, text) pairs.
    func log(_ id: String) throws -> [(String, String)] {
        try LogReader(path: runtime.containers.logPath(of: id)).readAvailable().map {
            ($0.stream, String(decoding: $0.log, as: UTF8.self))
        }
    }

    /// The mount table, read to its end: Foundation's file reading stops after the first 4 KB of a
    /// /proc file, which would hide the later mounts from the leak checks.
    static func mountTable() -> String {
        guard let file = fopen("/proc/self/mountinfo", "r") else { return "" }
        defer { fclose(file) }
        var text = ""
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0, let line { text += String(cString: line) }
        free(line)
        return text
    }

    /// Everything of the container's that should be gone after removal, described; empty when clean.
    func leftovers(_ id: String) -> [String] {
        var found: [String] = []
        let directory = runtime.containers.path(of: id)
        if access(directory, F_OK) == 0 { found.append("directory \(directory)") }
        if Self.mountTable().contains(id) {
            found.append("a mount of \(id)")
        }
        if access(root + "/runc/" + id, F_OK) == 0 { found.append("runc state") }
        for cgroup in runtime.layout.directories(for: id) where access(cgroup, F_OK) == 0 {
            found.append("cgroup \(cgroup)")
        }
        return found
    }
}

/// What a `berth` command printed and how it exited.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

extension RuntimeFixture {
    /// Runs the built `berth` with this fixture's root.
    func berth(_ arguments: [String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        process.arguments = ["--root", root] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }

    func berth(_ arguments: String...) throws -> CommandResult {
        try berth(arguments)
    }
}

/// Runs a command and returns its standard output.
func commandOutput(_ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Runs a command and returns its exit status.
@discardableResult
func runCommand(_ arguments: String...) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
