import BerthOCI
import Foundation
import Testing

/// The peer CNCF registry (scripts/peer-registry.sh) for these tests: plain HTTP on 127.0.0.1.
private enum RegistryPeer {
    static let port = "5383"
    static let securedPort = "5384"
    static let address = "127.0.0.1:\(port)"
    static let securedAddress = "127.0.0.1:\(securedPort)"

    static func start() throws {
        for arguments in [["start", port], ["start", securedPort, "htpasswd"]] {
            let result = try Command.run(Peers.packageRoot + "/scripts/peer-registry.sh", arguments, timeout: 60)
            guard result.succeeded else { throw PeerError.failed("scripts/peer-registry.sh", result) }
        }
    }
}

/// `berth login/logout/push/pull` against the CNCF registry (distribution 2.8.2), checked with skopeo.
@Suite(.serialized, .enabled(if: Peers.berth && Command.resolve("docker-registry") != nil && Command.resolve("skopeo") != nil,
                             "needs root, docker-registry and skopeo"))
struct RegistryClientTests {
    init() throws { try RegistryPeer.start() }

    private func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func pushThenPullIntoACleanStoreAndRun() throws {
        let sandbox = try BerthSandbox()
        let id = try sandbox.importBusybox()
        let name = "\(RegistryPeer.address)/\(unique("berth/busybox")):v1"
        try sandbox.ok("tag", "busybox:latest", name)

        let push = try sandbox.run("push", name)
        try #require(push.succeeded, "\(push)")
        let repository = String(name.dropLast(":v1".count))
        #expect(push.lines.first == "The push refers to repository [\(repository)]")
        #expect(push.lines.contains { $0.wholeMatch(of: #/[0-9a-f]{12}: Pushed/#) != nil }, "\(push.lines)")
        let final = try #require(push.lines.last?.wholeMatch(of: #/v1: digest: (sha256:[0-9a-f]{64}) size: ([0-9]+)/#))
        let digest = String(final.1)

        // skopeo sees the same manifest.
        let inspect = try Command.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(name)"])
        try #require(inspect.succeeded, "\(inspect)")
        #expect(Digest.sha256(of: inspect.stdout).description == digest)

        // A second push finds everything there.
        let again = try sandbox.run("push", name)
        #expect(again.lines.contains { $0.hasSuffix(": Layer already exists") }, "\(again)")
        #expect(again.lines.last == final.0.description)

        let digests = try sandbox.ok("images", "--digests")
        #expect(digests.contains(digest), "\(digests)")

        let clean = try BerthSandbox()
        let pull = try clean.run("pull", name)
        try #require(pull.succeeded, "\(pull)")
        #expect(pull.lines.first == "v1: Pulling from \(repository.split(separator: "/", maxSplits: 1)[1])")
        #expect(pull.lines.contains { $0.wholeMatch(of: #/[0-9a-f]{12}: Pull complete/#) != nil }, "\(pull.lines)")
        #expect(pull.lines.contains("Digest: \(digest)"))
        #expect(pull.lines.contains("Status: Downloaded newer image for \(name)"))
        #expect(pull.lines.last == name)
        #expect(try clean.imageIDs() == [id], "the image ID is the config digest, as pushed")
        let inspected = try clean.inspect(name)
        #expect(inspected["RepoDigests"] as? [String] == ["\(repository)@\(digest)"])

        let upToDate = try clean.run("pull", name)
        #expect(upToDate.lines.contains("Status: Image is up to date for \(name)"), "\(upToDate)")

        let run = try clean.run("run", "--rm", name, "echo", "pulled and running")
        #expect(run.succeeded && run.out == "pulled and running\n", "\(run)")

        let byDigest = try BerthSandbox()
        let pulled = try byDigest.run("pull", "\(repository)@\(digest)")
        #expect(pulled.succeeded, "\(pulled)")
        #expect(try byDigest.imageIDs() == [id])
    }

    @Test func pullsWhatSkopeoPushedFromADockerArchive() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let archive = sandbox.scratch + "/busybox.tar"
        try sandbox.ok("save", "-o", archive, "busybox:latest")
        let name = "\(RegistryPeer.address)/\(unique("skopeo/busybox")):latest"
        let copy = try Command.run("skopeo", ["copy", "--dest-tls-verify=false", "docker-archive:\(archive)", "docker://\(name)"])
        try #require(copy.succeeded, "\(copy)")
        let raw = try Command.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(name)"])
        #expect(raw.out.contains("application/vnd.docker.distribution.manifest.v2+json"), "skopeo pushed schema 2: \(raw.out)")

        let clean = try BerthSandbox()
        let pull = try clean.run("pull", name)
        try #require(pull.succeeded, "\(pull)")
        let run = try clean.run("run", "--rm", name, "echo", "schema2")
        #expect(run.out == "schema2\n", "\(run)")
        let original = try sandbox.inspect("busybox:latest")["Id"] as? String
        #expect(try clean.imageIDs() == [try #require(original)])
    }

    @Test func missingImagesAndBadDigestsAreOneLineErrors() throws {
        let sandbox = try BerthSandbox()
        let missing = try sandbox.run("pull", "\(RegistryPeer.address)/nothing/here:v1")
        #expect(!missing.succeeded)
        #expect(missing.err.split(separator: "\n").count == 1, "\(missing)")
        #expect(missing.err.contains("manifest unknown"), "\(missing)")

        try sandbox.importBusybox()
        let name = "\(RegistryPeer.address)/\(unique("berth/digest"))"
        try sandbox.ok("tag", "busybox:latest", name + ":v1")
        try sandbox.ok("push", name + ":v1")
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        let bad = try BerthSandbox().run("pull", "\(name)@\(wrong)")
        #expect(!bad.succeeded)
        #expect(bad.err.split(separator: "\n").count == 1, "\(bad)")

        let unknownLocal = try sandbox.run("push", "\(RegistryPeer.address)/not/tagged:v9")
        #expect(!unknownLocal.succeeded)
        #expect(unknownLocal.err.contains("An image does not exist locally with the tag"), "\(unknownLocal)")
    }

    @Test func loginPushPullLogoutWithHtpasswd() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let config = sandbox.scratch + "/config.json"
        let environment = ["BERTH_CONFIG": config]
        func berth(_ arguments: [String], stdin: StandardInput = .none) throws -> CommandResult {
            try Command.run(BerthSandbox.binary, ["--root", sandbox.root] + arguments, stdin: stdin, environment: environment)
        }
        let name = "\(RegistryPeer.securedAddress)/\(unique("secured/busybox")):v1"
        try sandbox.ok("tag", "busybox:latest", name)

        let anonymous = try berth(["push", name])
        #expect(!anonymous.succeeded)
        #expect(anonymous.err.contains("unauthorized"), "\(anonymous)")

        let wrong = try berth(["login", RegistryPeer.securedAddress, "-u", "berth", "--password-stdin"], stdin: .bytes(Data("nope\n".utf8)))
        #expect(!wrong.succeeded && wrong.err.split(separator: "\n").count == 1, "\(wrong)")
        #expect(!FileManager.default.fileExists(atPath: config), "failed logins save nothing")

        let withFlag = try berth(["login", RegistryPeer.securedAddress, "-u", "berth", "-p", "berth-secret"])
        #expect(withFlag.succeeded && withFlag.out == "Login Succeeded\n", "\(withFlag)")
        #expect(withFlag.err.contains("WARNING! Using --password via the CLI is insecure. Use --password-stdin."))
        #expect(withFlag.err.contains("WARNING! Your password will be stored unencrypted in \(config)."), "\(withFlag)")

        // Without a user name, Docker signs in with what is saved.
        let again = try berth(["login", RegistryPeer.securedAddress])
        #expect(again.succeeded && again.out == "Authenticating with existing credentials...\nLogin Succeeded\n", "\(again)")

        let login = try berth(["login", RegistryPeer.securedAddress, "-u", "berth", "--password-stdin"],
                              stdin: .bytes(Data("berth-secret\n".utf8)))
        #expect(login.succeeded && login.out == "Login Succeeded\n", "\(login)")
        let saved = try String(contentsOfFile: config, encoding: .utf8)
        #expect(saved.contains(Data("berth:berth-secret".utf8).base64EncodedString()), "\(saved)")

        let push = try berth(["push", name])
        #expect(push.succeeded, "\(push)")
        let pull = try Command.run(BerthSandbox.binary, ["--root", sandbox.root + "-pulled", "pull", name], environment: environment)
        #expect(pull.succeeded, "\(pull)")
        _ = try? Command.run("/bin/rm", ["-rf", sandbox.root + "-pulled"])

        let logout = try berth(["logout", RegistryPeer.securedAddress])
        #expect(logout.out == "Removing login credentials for \(RegistryPeer.securedAddress)\n", "\(logout)")
        let afterLogout = try berth(["pull", name])
        #expect(!afterLogout.succeeded)

        // Nothing saved and no terminal to ask on: Docker's error and status.
        let noTerminal = try berth(["login", RegistryPeer.securedAddress])
        #expect(noTerminal.status == 1 && noTerminal.err == "Error: Cannot perform an interactive login from a non TTY device\n",
                "\(noTerminal)")
    }

    @Test func configFilesAsDockerTreatsThem() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "\(RegistryPeer.address)/\(unique("config/busybox")):v1"
        try sandbox.ok("tag", "busybox:latest", name)
        func berth(_ arguments: [String], _ environment: [String: String], stdin: StandardInput = .none) throws -> CommandResult {
            try Command.run(BerthSandbox.binary, ["--root", sandbox.root] + arguments, stdin: stdin, environment: environment)
        }
        func login(_ environment: [String: String]) throws -> CommandResult {
            try berth(["login", RegistryPeer.securedAddress, "-u", "berth", "--password-stdin"], environment,
                      stdin: .bytes(Data("berth-secret\n".utf8)))
        }
        let secret = Data("berth:berth-secret".utf8).base64EncodedString()

        // A file that is not JSON: a warning, and the (anonymous) transfer goes on.
        let broken = sandbox.scratch + "/broken.json"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: broken))
        let push = try berth(["push", name], ["BERTH_CONFIG": broken])
        #expect(push.succeeded, "\(push)")
        #expect(push.err.hasPrefix("WARNING: Error loading config file: \(broken): "), "\(push)")

        // Docker's own variable names the directory.
        let dockerConfig = sandbox.scratch + "/docker-config"
        #expect(try login(["DOCKER_CONFIG": dockerConfig]).succeeded)
        #expect(try String(contentsOfFile: dockerConfig + "/config.json", encoding: .utf8).contains(secret))

        // A config kept elsewhere behind a symbolic link: the target changes, the link stays.
        let target = sandbox.scratch + "/dotfiles-config.json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: target))
        let link = sandbox.scratch + "/linked.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(try login(["BERTH_CONFIG": link]).succeeded)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8).contains(secret))

        // A credential store that is configured but not installed: the login fails rather than
        // writing the secret into the file.
        let withStore = sandbox.scratch + "/store.json"
        try Data(#"{"credsStore":"berth-test-missing"}"#.utf8).write(to: URL(fileURLWithPath: withStore))
        let refused = try login(["BERTH_CONFIG": withStore])
        #expect(!refused.succeeded && refused.err.contains("docker-credential-berth-test-missing"), "\(refused)")
        #expect(try String(contentsOfFile: withStore, encoding: .utf8) == #"{"credsStore":"berth-test-missing"}"#)

        // pull -a: one status line, for the repository.
        let repository = String(name.dropLast(":v1".count))
        try sandbox.ok("tag", "busybox:latest", repository + ":v2")
        let quiet = try sandbox.run("push", "-q", "-a", repository)
        #expect(quiet.succeeded && quiet.out == repository + "\n", "\(quiet)")
        let clean = try BerthSandbox()
        let all = try clean.run("pull", "-a", repository)
        #expect(all.succeeded, "\(all)")
        #expect(all.lines.filter { $0.hasPrefix("Status: ") } == ["Status: Downloaded newer image for \(repository)"], "\(all)")
        let allAgain = try clean.run("pull", "-a", repository)
        #expect(allAgain.lines.filter { $0.hasPrefix("Status: ") } == ["Status: Image is up to date for \(repository)"], "\(allAgain)")
    }
}
