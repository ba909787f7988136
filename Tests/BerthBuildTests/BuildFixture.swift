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
               target: String? = nil, secrets: [String: String] = [:]) throws -> BuildResult {
        lines = []
        let builder = Builder(store: store) { [weak self] line in self?.lines.append(line) }
        return try builder.build(BuildRequest(
            contextDirectory: contextDirectory, dockerfile: dockerfile, tags: [try Reference(parsing: tag)],
            target: target, noCache: noCache, sourceDateEpoch: epoch, network: "none",
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
