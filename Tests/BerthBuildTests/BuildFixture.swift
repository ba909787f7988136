import BerthArchive
import BerthBuild
import BerthOCI
import BerthStore
import Foundation
import Glibc

/// A temporary store with the busybox rootfs imported as `busybox`, a context directory, and a
/// builder whose progress lines are collected.
final class BuildFixture {
    let root: String
    let contextDirectory: String
    let store: Store
    private(set) var lines: [String] = []

    static let busyboxRootfs: String? = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("images-cache/busybox-rootfs.tar").path
            if access(candidate, R_OK) == 0 { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    /// Why builds with the busybox image cannot run here, or nil.
    static let baseSkipReason: String? = busyboxRootfs == nil
        ? "no busybox rootfs: run scripts/make-base-images.sh images-cache busybox" : nil

    /// Why builds with RUN steps cannot run here, or nil.
    static let runSkipReason: String? = {
        if let baseSkipReason { return baseSkipReason }
        if getuid() != 0 { return "not root: RUN needs root (overlay mounts, namespaces)" }
        let runc = Process()
        runc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        runc.arguments = ["runc", "--version"]
        runc.standardOutput = FileHandle.nullDevice
        runc.standardError = FileHandle.nullDevice
        guard (try? runc.run()) != nil else { return "runc is not installed" }
        runc.waitUntilExit()
        if runc.terminationStatus != 0 { return "runc is not installed" }
        return nil
    }()

    /// Why RUN steps on the default bridge cannot run here, or nil.
    static let bridgeSkipReason: String? = {
        if let runSkipReason { return runSkipReason }
        let missing = ["bridge", "host-local", "loopback"].filter { plugin in
            !["/usr/lib/cni/", "/opt/cni/bin/"].contains { access($0 + plugin, X_OK) == 0 }
        }
        if !missing.isEmpty { return "CNI plugins missing: \(missing.joined(separator: ", ")) (apt-get install containernetworking-plugins)" }
        return shell("command -v iptables-save && command -v unshare && command -v busybox") == nil
            ? "needs iptables-save, unshare and busybox" : nil
    }()

    /// Reports a skipped bridge-network test loudly.
    static func skippedWithoutBridge(_ test: String = #function) -> Bool {
        guard let reason = bridgeSkipReason else { return false }
        print("SKIPPED \(test): \(reason)")
        return true
    }

    /// Runs a bash command (scripts/detach.sh needs bash); its standard output, or nil when it fails.
    @discardableResult
    static func shell(_ command: String) -> String? {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// This mount namespace's mount table, read whole by `cat` (Foundation's file reading stops at
    /// the first page of a /proc file, which would hide mounts further down).
    static var mountTable: String { shell("cat /proc/self/mountinfo") ?? "" }

    /// Reports a skipped test loudly, so a green run without root is not mistaken for coverage.
    static func skipped(needsRun: Bool, _ test: String = #function) -> Bool {
        guard let reason = needsRun ? runSkipReason : baseSkipReason else { return false }
        print("SKIPPED \(test): \(reason)")
        return true
    }

    init() throws {
        let base = "/tmp/berth-build-test-" + UUID().uuidString.prefix(8).lowercased()
        root = base + "/root"
        contextDirectory = base + "/context"
        try FileManager.default.createDirectory(atPath: contextDirectory, withIntermediateDirectories: true)
        store = try Store(root: root)
        if let rootfs = Self.busyboxRootfs {
            _ = try store.importImage(from: FileSource(path: rootfs), sourceName: "-", message: nil,
                                      tag: try Reference(parsing: "busybox"),
                                      created: Date(timeIntervalSince1970: 1_600_000_000)) { config in config.Cmd = ["sh"] }
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent)
    }

    func write(_ path: String, _ text: String) throws {
        let full = contextDirectory + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    /// Builds `dockerfile` in the context, tagging `tag`.
    @discardableResult
    func build(_ dockerfile: String, tag: String = "app", noCache: Bool = false, epoch: Int64? = nil,
               target: String? = nil, secrets: [String: String] = [:], network: String = "none") throws -> BuildResult {
        lines = []
        let builder = Builder(store: store) { [weak self] line in self?.lines.append(line) }
        return try builder.build(BuildRequest(
            contextDirectory: contextDirectory, dockerfile: dockerfile, tags: [try Reference(parsing: tag)],
            target: target, noCache: noCache, sourceDateEpoch: epoch, network: network,
            secrets: secrets))
    }

    func config(_ name: String = "app") throws -> ImageConfig {
        try store.config(of: store.image(named: name))
    }

    /// Paths (and link targets) in one layer of an image, top layer by default.
    func layerEntries(_ name: String = "app", fromTop offset: Int = 0) throws -> [String: TarEntry] {
        let manifest = try store.manifest(of: store.image(named: name))
        let layer = manifest.layers[manifest.layers.count - 1 - offset]
        let reader = TarReader(try store.content.open(layer.digest))
        var entries: [String: TarEntry] = [:]
        while let entry = try reader.next() { entries[entry.path] = entry }
        return entries
    }

    func layerFile(_ path: String, _ name: String = "app", fromTop offset: Int = 0) throws -> String? {
        let manifest = try store.manifest(of: store.image(named: name))
        let layer = manifest.layers[manifest.layers.count - 1 - offset]
        let reader = TarReader(try store.content.open(layer.digest))
        while let entry = try reader.next() {
            if entry.path == path { return String(decoding: try reader.readContents(), as: UTF8.self) }
        }
        return nil
    }
}

/// busybox httpd serving files from a temporary directory on every host address, started through
/// scripts/detach.sh so it holds none of the test runner's descriptors.
final class HTTPServer {
    let port: UInt16
    let directory: String
    private let pid: pid_t

    init(files: [String: String]) throws {
        directory = "/tmp/berth-www-" + UUID().uuidString.prefix(8).lowercased()
        for (name, content) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        }
        port = try Self.freePort()
        let detach = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/detach.sh").path
        guard let started = BuildFixture.shell(
            ". \(detach); detach /dev/null busybox httpd -f -p 0.0.0.0:\(port) -h \(directory); echo $!"),
            let pid = pid_t(started.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BuildError.io(operation: "start busybox httpd in", path: directory, errno: ENOENT)
        }
        self.pid = pid
        // Ready once it listens.
        for _ in 0..<50 where BuildFixture.shell("busybox netstat -ltn | grep -q ':\(port) '") == nil {
            usleep(100_000)
        }
    }

    /// A TCP port nothing listens on now.
    static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw BuildError.io(operation: "bind", path: "0.0.0.0:0", errno: errno) }
        return UInt16(bigEndian: address.sin_port)
    }

    func stop() {
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
