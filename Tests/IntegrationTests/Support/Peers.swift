import Foundation
import Glibc

/// What the machine offers these tests. Each condition is computed once per process; a missing
/// prerequisite is announced on stderr, since Swift Testing reports a disabled test only by name.
enum Peers {
    /// The package's root directory, three levels above this file (Tests/IntegrationTests/Support).
    static let packageRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let isRoot = geteuid() == 0

    /// Tests that only need the berth binary and GNU tar (as root, like CI and the store's real use).
    static let berth = available("berth CLI tests", needs: [(isRoot, "not running as root"), tool("tar")])

    /// Tests that drive the peer Docker daemon.
    static let docker = available("Docker interop tests", needs: [
        (isRoot, "not running as root"), tool("dockerd"), tool("docker"), tool("tar"),
    ])

    /// Tests that compare Berth's confinement with Docker's through a probe built with gcc.
    static let confinement = available("confinement tests", needs: [
        (isRoot, "not running as root"), tool("dockerd"), tool("docker"), tool("gcc"),
    ])

    /// Tests that drive `berth serve` with the docker CLI (and compare with the peer daemon).
    static let engineAPI = available("Engine API tests", needs: [
        (isRoot, "not running as root"), tool("dockerd"), tool("docker"), tool("curl"), tool("tar"),
    ])

    /// Tests that drive `berth serve`'s Kubernetes API with the real kubectl.
    static let kubectl = available("Kubernetes API tests", needs: [
        (isRoot, "not running as root"), tool("kubectl"), tool("curl"), tool("openssl"), tool("kubernetes-validate"),
        ((try? Command.run("python3", ["-c", "import kubernetes"]))?.succeeded == true, "the Kubernetes Python client is not installed"),
    ])

    /// Tests that drive `berth serve` with docker-compose 1.29 and Testcontainers for Python.
    static let composeAndTestcontainers = available("Compose and Testcontainers tests", needs: [
        (isRoot, "not running as root"), tool("docker-compose"), tool("python3"), tool("curl"),
        ((try? Command.run("python3", ["-c", "import testcontainers"]))?.succeeded == true, "testcontainers is not installed"),
    ])

    static let skopeo = available("skopeo interop tests", needs: [
        (isRoot, "not running as root"), tool("dockerd"), tool("docker"), tool("skopeo"),
    ])

    /// Tests that pull from Berth's registry with Debian's containerd and its `ctr`.
    static let containerd = available("containerd pull tests", needs: [
        (isRoot, "not running as root"), tool("containerd"), tool("ctr"), tool("openssl"), tool("htpasswd"),
    ])

    static let umoci = available("umoci interop tests", needs: [
        (isRoot, "not running as root"), tool("dockerd"), tool("docker"), tool("umoci"), tool("tar"),
    ])

    private static func tool(_ name: String) -> (Bool, String) {
        (Command.resolve(name) != nil, "\(name) is not installed (scripts/install-deps.sh)")
    }

    private static func available(_ what: String, needs: [(Bool, String)]) -> Bool {
        let missing = needs.filter { !$0.0 }.map(\.1)
        guard missing.isEmpty else {
            FileHandle.standardError.write(Data(
                "integration: SKIPPING \(what): \(missing.joined(separator: "; "))\n".utf8))
            return false
        }
        return true
    }
}

enum PeerError: Error, CustomStringConvertible {
    case failed(String, CommandResult)

    var description: String {
        switch self {
        case .failed(let what, let result): return "\(what) failed: \(result)"
        }
    }
}

/// The private Docker daemon of scripts/peer-docker.sh, shared by every test in the process.
enum PeerDocker {
    static let environment = ["DOCKER_HOST": "unix:///tmp/peer-docker.sock", "DOCKER_BUILDKIT": "0"]

    /// Starts the daemon once per process (the script is idempotent and locks against other processes).
    private static let started: Result<Void, PeerError> = {
        do {
            let result = try Command.run(Peers.packageRoot + "/scripts/peer-docker.sh", ["start"], timeout: 240)
            return result.succeeded ? .success(()) : .failure(.failed("scripts/peer-docker.sh start", result))
        } catch {
            return .failure(.failed("scripts/peer-docker.sh start: \(error)",
                                    CommandResult(arguments: [], status: -1, signaled: false, stdout: Data(), stderr: Data())))
        }
    }()

    static func start() throws { try started.get() }

    /// Runs the docker CLI against the peer daemon.
    @discardableResult
    static func docker(_ arguments: String..., stdin: StandardInput = .none) throws -> CommandResult {
        try docker(arguments, stdin: stdin)
    }

    @discardableResult
    static func docker(_ arguments: [String], stdin: StandardInput = .none) throws -> CommandResult {
        try start()
        return try Command.run("docker", arguments, stdin: stdin, environment: environment)
    }

    /// Runs the docker CLI and fails unless it succeeded; returns its trimmed standard output.
    @discardableResult
    static func checked(_ arguments: String...) throws -> String {
        try checked(arguments)
    }

    @discardableResult
    static func checked(_ arguments: [String]) throws -> String {
        try start()
        let result = try Command.run("docker", arguments, environment: environment)
        guard result.succeeded else { throw PeerError.failed("docker", result) }
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Test inputs made once and cached in /tmp across test runs, keyed by what they are made from.
enum Fixtures {
    static let directory = "/tmp/berth-integration-fixtures"

    /// The busybox root filesystem tarball of scripts/make-base-images.sh.
    static func busyboxRootfs() throws -> String {
        let path = Peers.packageRoot + "/images-cache/busybox-rootfs.tar"
        if access(path, R_OK) == 0 { return path }
        let result = try Command.run(Peers.packageRoot + "/scripts/make-base-images.sh",
                                     [Peers.packageRoot + "/images-cache", "busybox"], timeout: 240)
        guard result.succeeded else { throw PeerError.failed("scripts/make-base-images.sh", result) }
        return path
    }

    /// A multi-layer `docker save` archive from Tests/fixtures/make-docker-archive.sh (which
    /// caches by its arguments and locks against parallel makers).
    static func dockerArchive(sizeMB: Int, layers: Int) throws -> String {
        try PeerDocker.start()
        let path = "\(directory)/docker-archive-\(sizeMB)mb-\(layers)layers.tar"
        let result = try Command.run(Peers.packageRoot + "/Tests/fixtures/make-docker-archive.sh",
                                     [path, String(sizeMB), String(layers)], timeout: 280)
        guard result.succeeded else { throw PeerError.failed("make-docker-archive.sh", result) }
        return path
    }

    /// A root filesystem tarball made by GNU tar: bin/ and etc/ plus `sizeMB` MiB of random data.
    static func randomRootfs(sizeMB: Int) throws -> String {
        let path = "\(directory)/random-rootfs-\(sizeMB)mb.tar"
        let script = """
            mkdir -p \(directory)
            exec 9>\(path).lock
            flock 9
            [ -s \(path) ] && exit 0
            staging=$(mktemp -d)
            trap 'rm -rf "$staging"' EXIT
            mkdir -p "$staging/bin" "$staging/etc" "$staging/data"
            echo root:x:0:0:root:/root:/bin/sh >"$staging/etc/passwd"
            head -c \(sizeMB)M /dev/urandom >"$staging/data/random.bin"
            tar -C "$staging" -cf \(path).tmp .
            mv \(path).tmp \(path)
            """
        let result = try Command.shell(script, timeout: 120)
        guard result.succeeded else { throw PeerError.failed("making \(path)", result) }
        return path
    }

    /// `docker save busybox:latest` from the peer daemon.
    static func dockerSavedBusybox() throws -> String {
        try PeerDocker.start()
        let path = "\(directory)/docker-save-busybox.tar"
        let id = try PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", "busybox:latest")
        let key = path + ".id"
        if access(path, R_OK) == 0, (try? String(contentsOfFile: key, encoding: .utf8)) == id { return path }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp.\(getpid())"
        try PeerDocker.checked("save", "-o", temporary, "busybox:latest")
        guard rename(temporary, path) == 0 else { throw CommandError.cannotOpen(path) }
        try id.write(toFile: key, atomically: true, encoding: .utf8)
        return path
    }
}
