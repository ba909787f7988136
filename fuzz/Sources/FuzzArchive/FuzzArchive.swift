import BerthArchive
import Foundation

/// Reads the input as a (possibly gzip- or zstd-compressed) tar archive, every entry's contents
/// included, then extracts it with `SafeExtractor` into a fresh directory and checks that nothing
/// appeared, changed or vanished outside that directory.
///
/// The extraction root is `<sandbox>/a/b/root`; `<sandbox>/a/b/outside/file` and the directories
/// around the root are the sentinels. An entry that escapes by up to three levels, or through a
/// symlink to one of them, lands among the sentinels, and the harness traps. So does one that
/// reaches `/tmp/berth-fuzz-archive-sentinel/file` (a fixed path that the seeds and the
/// dictionary name), which catches an absolute path or symlink target taken outside the root.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchive(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let source = try? DecompressingSource(BytesSource(bytes)) {
        let reader = TarReader(source)
        while let entry = try? reader.next() {
            if entry.kind == .file { _ = try? reader.readContents() }
        }
    }
    guard let source = try? DecompressingSource(BytesSource(bytes)) else { return 0 }
    // Vary the options with the input, so every combination meets every archive.
    let variant = bytes.reduce(0) { ($0 &+ Int($1)) & 0xFF }
    let whiteouts: [SafeExtractor.WhiteoutMode] = [.overlay, .apply, .keep]
    let extractor = SafeExtractor(
        root: Sandbox.shared.root, whiteouts: whiteouts[variant % 3], preserveOwnership: variant & 4 != 0,
        refuseTypeChanges: variant & 8 != 0, refuseEscapingSymlinks: variant & 16 != 0)
    Sandbox.shared.prepare()
    _ = try? extractor.extract(TarReader(source))
    Sandbox.shared.check()
    Sandbox.shared.reset()
    return 0
}

/// The directories one extraction runs in, created once per process.
final class Sandbox {
    static let shared = Sandbox()

    let base: String
    let root: String
    private let outside: String
    private let sentinelContents = Array("sentinel\n".utf8)

    private init() {
        var template = Array((FileManager.default.temporaryDirectory.path + "/berth-fuzz-archive.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp: \(String(cString: strerror(errno)))") }
        base = String(cString: made)
        root = base + "/a/b/root"
        outside = base + "/a/b/outside"
        try! FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: outside + "/file", contents: Data(sentinelContents)) else {
            fatalError("cannot create the sentinel file in \(outside)")
        }
        chmod(outside + "/file", 0o644)
        atexit { try? FileManager.default.removeItem(atPath: Sandbox.shared.base) }
    }

    /// Another process's run may share the absolute sentinel, and /tmp may have been cleaned: it
    /// is (re)made before each extraction and checked after it.
    static let absoluteSentinel = "/tmp/berth-fuzz-archive-sentinel"

    func prepare() {
        let path = Self.absoluteSentinel
        _ = mkdir(path, 0o755)
        var info = stat()
        guard lstat(path + "/file", &info) != 0 || info.st_mode != S_IFREG | 0o644
                || FileManager.default.contents(atPath: path + "/file") != Data(sentinelContents)
        else { return }
        let temporary = "\(path)/.file.\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(sentinelContents)),
              chmod(temporary, 0o644) == 0, rename(temporary, path + "/file") == 0
        else { fatalError("cannot create the sentinel file in \(path)") }
    }

    /// Traps unless the sandbox holds exactly what `init` made plus whatever is under the root, and
    /// the absolute sentinel is as `prepare` left it.
    func check() {
        var info = stat()
        let absolute = Self.absoluteSentinel
        guard lstat(absolute + "/file", &info) == 0, info.st_mode == S_IFREG | 0o644, info.st_nlink == 1,
              FileManager.default.contents(atPath: absolute + "/file") == Data(sentinelContents)
        else { fatalError("extraction escaped its root: \(absolute)/file was changed") }
        // Names other than `file` are escapes, but for a concurrent `prepare`'s temporary file.
        let strays = ((try? FileManager.default.contentsOfDirectory(atPath: absolute)) ?? [])
            .filter { $0 != "file" && !$0.hasPrefix(".file.") }
        guard strays.isEmpty else { fatalError("extraction escaped its root: \(absolute) holds \(strays)") }
        expectEntries(base, ["a"])
        expectEntries(base + "/a", ["b"])
        expectEntries(base + "/a/b", ["outside", "root"])
        expectEntries(outside, ["file"])
        guard lstat(outside + "/file", &info) == 0, info.st_mode == S_IFREG | 0o644, info.st_nlink == 1,
              FileManager.default.contents(atPath: outside + "/file") == Data(sentinelContents)
        else { fatalError("extraction escaped its root: \(outside)/file was changed") }
        for directory in [base, base + "/a", base + "/a/b", outside] {
            guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR
            else { fatalError("extraction escaped its root: \(directory) was replaced") }
        }
    }

    /// Removes the root, whatever the extraction left in it (modes included).
    func reset() {
        var info = stat()
        guard lstat(root, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR { makeRemovable(root) }
        do { try FileManager.default.removeItem(atPath: root) } catch { fatalError("cannot clean \(root): \(error)") }
    }

    private func makeRemovable(_ directory: String) {
        chmod(directory, 0o700)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            var info = stat()
            let path = directory + "/" + name
            if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { makeRemovable(path) }
        }
    }

    private func expectEntries(_ directory: String, _ expected: Set<String>) {
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        // The root may be missing when the archive failed before its first entry.
        guard names == expected || names == expected.subtracting(["root"]) else {
            fatalError("extraction escaped its root: \(directory) holds \(names.sorted()), expected \(expected.sorted())")
        }
    }
}
