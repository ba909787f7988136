import Foundation
import Glibc
import Testing

/// A fresh `--root` for one test, removed when the test lets go of it, and the `berth` binary to
/// run against it.
final class BerthSandbox: @unchecked Sendable {
    /// `BERTH_BIN`, else the debug build in the package's own `.build`.
    static let binary = ProcessInfo.processInfo.environment["BERTH_BIN"] ?? Peers.packageRoot + "/.build/debug/berth"

    let root: String
    /// A scratch directory beside the root for archives and unpacked files.
    let scratch: String

    init() throws {
        guard access(Self.binary, X_OK) == 0 else {
            throw CommandError.notFound("berth binary \(Self.binary) (build it, or set BERTH_BIN)")
        }
        var template = Array("/tmp/berth-it.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CommandError.cannotOpen("/tmp/berth-it.XXXXXX") }
        let base = String(cString: made)
        root = base + "/root"
        scratch = base + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    deinit {
        // Containers a test left running would outlive their root (monitors, mounts, veths and
        // port rules): remove them while their records still say what to release.
        if let listed = try? run(["ps", "-aq", "--no-trunc"], timeout: 60), listed.succeeded {
            let ids = listed.out.split(separator: "\n").map(String.init)
            if !ids.isEmpty { _ = try? run(["rm", "-f", "-v"] + ids, timeout: 120) }
        }
        // So do networks: their bridges and NAT rules are the host's (a pod network's among them).
        _ = try? run(["network", "prune", "-f"], timeout: 60)
        let base = (root as NSString).deletingLastPathComponent
        // umoci bundles and docker-side files can be root-owned read-only trees: rm -rf copes.
        _ = try? Command.run("/bin/rm", ["-rf", base])
    }

    /// Runs `berth --root ROOT ARGS...`.
    @discardableResult
    func run(_ arguments: [String], stdin: StandardInput = .none, timeout: TimeInterval = 300) throws -> CommandResult {
        try Command.run(Self.binary, ["--root", root] + arguments, stdin: stdin, timeout: timeout)
    }

    @discardableResult
    func run(_ arguments: String..., stdin: StandardInput = .none) throws -> CommandResult {
        try run(arguments, stdin: stdin)
    }

    /// Starts `berth --root ROOT ARGS...` without waiting for it.
    func start(_ arguments: [String], stdin: StandardInput = .none) throws -> Command.Running {
        try Command.start(Self.binary, ["--root", root] + arguments, stdin: stdin)
    }

    /// Runs berth, records an issue unless it succeeded, and returns its standard output.
    @discardableResult
    func ok(_ arguments: String..., stdin: StandardInput = .none,
            sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try ok(arguments, stdin: stdin, sourceLocation: sourceLocation)
    }

    @discardableResult
    func ok(_ arguments: [String], stdin: StandardInput = .none,
            sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run(arguments, stdin: stdin)
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        return result.out
    }

    /// `berth import` of the busybox rootfs with `CMD ["sh"]`; returns the image ID.
    @discardableResult
    func importBusybox(as reference: String? = "busybox:latest", changes: [String] = [#"CMD ["sh"]"#]) throws -> String {
        var arguments = ["import"]
        for change in changes { arguments += ["--change", change] }
        arguments.append(try Fixtures.busyboxRootfs())
        if let reference { arguments.append(reference) }
        let result = try run(arguments)
        try #require(result.succeeded, "\(result)")
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `berth image inspect NAME` parsed: the one document of the array.
    func inspect(_ name: String) throws -> [String: Any] {
        let result = try run("image", "inspect", name)
        try #require(result.succeeded, "\(result)")
        let documents = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
        try #require(documents.count == 1)
        return documents[0]
    }

    /// The image IDs `berth images -q --no-trunc` lists.
    func imageIDs() throws -> Set<String> {
        let result = try run("images", "-q", "--no-trunc")
        try #require(result.succeeded, "\(result)")
        return Set(result.lines)
    }

    /// Names of the files in a directory under the root (`blobs/sha256`, `ingest`).
    func entries(_ directory: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? [])
    }

    var blobs: Set<String> { entries("blobs/sha256") }
}

/// JSON values compared by their canonical text (sorted keys), which also makes failures readable.
func canonicalJSON(_ value: Any?) -> String {
    guard let value, !(value is NSNull) else { return "null" }
    guard JSONSerialization.isValidJSONObject([value]),
          let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .withoutEscapingSlashes])
    else { return String(describing: value) }
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}
