import Foundation
import Testing

/// `berth build` and `POST /build` pull base images through the engine's pull, from Berth's own
/// registry on 127.0.0.1: the ones the store lacks always, and every one with `--pull` / `pull=1`,
/// as Docker's build does.
@Suite(.serialized, .enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct BuildPullTests {
    @Test func aBuildPullsMissingBasesAndWithPullTheRegistrysNewerOne() throws {
        let daemon = try BerthDaemon()
        let sandbox = daemon.sandbox
        try sandbox.importBusybox()
        let registry = try RegistryServerTests.Server(sandbox: sandbox)
        let base = "\(registry.address)/pulled/base:1"
        // The registry's first base is busybox as it is, with no /version.
        try sandbox.ok("tag", "busybox", base)
        try sandbox.ok("push", base)
        try sandbox.ok("rmi", base)
        let context = sandbox.scratch + "/app"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM \(base)\nRUN (cat /version 2>/dev/null || echo none) > /seen\n"
            .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        func seen(_ image: String) throws -> String {
            try sandbox.ok("run", "--rm", image, "cat", "/seen")
        }

        // Missing: pulled without being asked.
        try sandbox.ok("build", "-q", "-t", "app:missing", context)
        #expect(try seen("app:missing") == "none\n")

        // The registry gets a newer base under the same name; the local one stays the old one.
        let newer = sandbox.scratch + "/newer"
        try FileManager.default.createDirectory(atPath: newer, withIntermediateDirectories: true)
        try "FROM busybox\nRUN echo 2 > /version\n".write(toFile: newer + "/Dockerfile", atomically: true, encoding: .utf8)
        try sandbox.ok("build", "-q", "-t", base, newer)
        try sandbox.ok("push", base)
        try sandbox.ok("tag", "busybox", base)

        try sandbox.ok("build", "-q", "-t", "app:local", context)
        #expect(try seen("app:local") == "none\n", "without --pull the local base is used")
        try sandbox.ok("build", "-q", "--pull", "-t", "app:pulled", context)
        #expect(try seen("app:pulled") == "2\n", "--pull takes the registry's newer base")
        // The policy forms: always as --pull, missing as the default, never pulls nothing.
        try sandbox.ok("tag", "busybox", base)
        try sandbox.ok("build", "-q", "--pull=never", "-t", "app:never", context)
        #expect(try seen("app:never") == "none\n")
        try sandbox.ok("build", "-q", "--pull=missing", "-t", "app:missing2", context)
        #expect(try seen("app:missing2") == "none\n")
        try sandbox.ok("build", "-q", "--pull=always", "-t", "app:always", context)
        #expect(try seen("app:always") == "2\n")
        try sandbox.ok("rmi", base)
        let never = try sandbox.run("build", "-q", "--pull=never", context)
        #expect(never.status == 1 && !never.err.isEmpty, "\(never)")
        #expect(try sandbox.run("image", "inspect", base).status == 1, "--pull=never pulled nothing")
        let bogus = try sandbox.run("build", "--pull=sometimes", context)
        #expect(bogus.status != 0 && bogus.err.contains(#"invalid pull option: 'sometimes'"#), "\(bogus)")

        // The Engine API's pull=1 (docker build --pull) does the same.
        try sandbox.ok("tag", "busybox", base)
        let environment = daemon.environment.merging(["DOCKER_CONFIG": sandbox.scratch + "/docker-config"]) { $1 }
        let local = try Command.run("docker", ["build", "-q", "-t", "api:local", context], environment: environment)
        #expect(local.succeeded, "\(local)")
        #expect(try seen("api:local") == "none\n")
        let pulled = try Command.run("docker", ["build", "-q", "--pull", "-t", "api:pulled", context], environment: environment)
        #expect(pulled.succeeded, "\(pulled)")
        #expect(try seen("api:pulled") == "2\n")
    }

    @Test func imagesThatCopyFromAndRunMountFromNameArePulledToo() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let registry = try RegistryServerTests.Server(sandbox: sandbox)
        let tool = "\(registry.address)/pulled/tool:1"
        try sandbox.ok("tag", "busybox", tool)
        try sandbox.ok("push", tool)
        try sandbox.ok("rmi", tool)
        let context = sandbox.scratch + "/app"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try """
            FROM busybox AS stage
            ARG TOOL=\(tool)
            COPY --from=$TOOL /etc/passwd /copied
            RUN --mount=from=\(tool),target=/tool cp /tool/etc/group /mounted
            """.write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try sandbox.ok("build", "-q", "-t", "copies", context)
        #expect(try sandbox.ok("run", "--rm", "copies", "cat", "/copied", "/mounted").contains("root:x:0:"))
        #expect(try sandbox.run("image", "inspect", tool).succeeded)

        // A base the registry does not have fails the build in BuildKit's words.
        let absent = "\(registry.address)/pulled/absent:1"
        try "FROM \(absent)\nRUN true\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let failed = try sandbox.run("build", "-q", context)
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.err.hasPrefix("ERROR: failed to solve: \(absent): failed to resolve source metadata for \(absent): "), "\(failed)")
    }
}
