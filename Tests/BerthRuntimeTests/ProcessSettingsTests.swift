import BerthOCI
@testable import BerthRuntime
import Foundation
import Testing

/// How the container's process is derived from the image and the options: users, paths,
/// capabilities, environment.
struct ProcessSettingsTests {
    /// A throwaway rootfs with passwd, group and a symlink that points outside it.
    func rootfs() throws -> String {
        let root = NSTemporaryDirectory() + "berth-rootfs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
            .write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nwheel:x:10:root\n"
            .write(toFile: root + "/etc/group", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: "/etc/../../..")
        return root
    }

    @Test func usersResolveThroughTheContainersOwnFiles() throws {
        let root = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let users = UserResolver(rootfs: root)
        // The primary group leads the supplementary groups (moby's getUser), then the groups
        // that list the user, unless a group was named.
        let app = try users.resolve("app")
        #expect(app.user == RuntimeSpec.User(uid: 1000, gid: 1000, additionalGids: [1000, 50]))
        #expect(app.home == "/home/app")
        #expect(try users.resolve("").user == RuntimeSpec.User(uid: 0, gid: 0, additionalGids: [0, 10]))
        #expect(try users.resolve("app:staff").user == RuntimeSpec.User(uid: 1000, gid: 50, additionalGids: [50]))
        #expect(try users.resolve("1000:7").user == RuntimeSpec.User(uid: 1000, gid: 7, additionalGids: [7]))
        #expect(try users.resolve("1000").user == RuntimeSpec.User(uid: 1000, gid: 1000, additionalGids: [1000, 50]))
        // A numeric uid that has no passwd entry is allowed, with gid 0, as in Docker.
        #expect(try users.resolve("4242").user == RuntimeSpec.User(uid: 4242, gid: 0, additionalGids: [0]))
        #expect(throws: RuntimeError.unknownUser("ghost")) { try users.resolve("ghost") }
        #expect(throws: RuntimeError.unknownGroup("nogroup")) { try users.resolve("app:nogroup") }
        #expect(throws: RuntimeError.idOutOfRange) { try users.resolve("2147483648") }
        #expect(throws: RuntimeError.idOutOfRange) { try users.resolve("app:-1") }
    }

    @Test func addedGroupsResolveByNameOrNumber() throws {
        let root = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let users = UserResolver(rootfs: root)
        // Names come from the container's /etc/group; numbers are kept whether listed or not;
        // each group is set once.
        #expect(try users.resolve("app", groupAdd: ["wheel", "555", "50"]).user
            == RuntimeSpec.User(uid: 1000, gid: 1000, additionalGids: [1000, 50, 10, 555]))
        #expect(try users.resolve("app:staff", groupAdd: ["app"]).user
            == RuntimeSpec.User(uid: 1000, gid: 50, additionalGids: [50, 1000]))
        #expect(throws: RuntimeError.unknownAdditionalGroup("ghosts")) { try users.resolve("", groupAdd: ["ghosts"]) }
        #expect(throws: RuntimeError.idOutOfRange) { try users.resolve("", groupAdd: ["99999999999"]) }
        #expect(RuntimeError.unknownAdditionalGroup("x").description == "Unable to find group x: no matching entries in group file")
    }

    @Test func aMissingExecCommandIsToldInRuncsWords() throws {
        let root = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(toFile: root + "/bin/tool", atomically: true, encoding: .utf8)
        let path = ["PATH=/usr/bin:/bin"]
        #expect(ContainerRuntime.missingCommand("tool", path: path, cwd: "/", root: root) == nil)
        #expect(ContainerRuntime.missingCommand("/bin/tool", path: path, cwd: "/", root: root) == nil)
        #expect(ContainerRuntime.missingCommand("bin/tool", path: [], cwd: "/", root: root) == nil)
        #expect(ContainerRuntime.missingCommand("nosuch", path: path, cwd: "/", root: root)
            == #"exec: "nosuch": executable file not found in $PATH"#)
        // Without PATH nothing is looked up, as Go's exec.LookPath does.
        #expect(ContainerRuntime.missingCommand("tool", path: [], cwd: "/", root: root)
            == #"exec: "tool": executable file not found in $PATH"#)
        #expect(ContainerRuntime.missingCommand("/no/such", path: path, cwd: "/", root: root)
            == #"exec: "/no/such": stat /no/such: no such file or directory"#)
    }

    @Test func pathsInTheRootfsCannotEscapeIt() throws {
        let root = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(SecurePath.join(root, "/escape/etc/passwd") == root + "/etc/passwd")
        #expect(SecurePath.join(root, "../../etc/./group") == root + "/etc/group")
    }

    @Test func capabilitiesFollowDockersAddAndDropRules() throws {
        let defaults = BundleBuilder.defaultCapabilities
        #expect(try BundleBuilder.capabilities(add: [], drop: [], privileged: false) == defaults)
        let changed = try BundleBuilder.capabilities(add: ["net_admin"], drop: ["CAP_CHOWN", "kill"], privileged: false)
        #expect(changed == defaults.filter { $0 != "CAP_CHOWN" && $0 != "CAP_KILL" } + ["CAP_NET_ADMIN"])
        #expect(try BundleBuilder.capabilities(add: ["NET_BIND_SERVICE"], drop: ["ALL"], privileged: false) == ["CAP_NET_BIND_SERVICE"])
        #expect(throws: RuntimeError.invalidOption("unknown capability: \"CAP_FLY\"")) {
            try BundleBuilder.capabilities(add: ["fly"], drop: [], privileged: false)
        }
    }

    @Test func environmentPutsHostnameAndPathFirstAndLetsLaterEntriesWin() {
        let config = ContainerRecord.Config(hostname: "abc", env: ["A=1", "B=2"])
        #expect(BundleBuilder.environment(config, home: "/root")
            == ["HOSTNAME=abc", "PATH=\(BundleBuilder.defaultPath)", "A=1", "B=2", "HOME=/root"])
        #expect(BundleBuilder.mergeEnvironment(["PATH=/bin", "A=1"], ["A=2", "C=3"]) == ["PATH=/bin", "A=2", "C=3"])
        let ownPath = ContainerRecord.Config(hostname: "h", env: ["PATH=/opt/bin", "HOME=/data"])
        #expect(BundleBuilder.environment(ownPath, home: "/root") == ["HOSTNAME=h", "PATH=/opt/bin", "HOME=/data"])
    }

    @Test func containerNamesFollowDockersRule() {
        #expect(ContainerRuntime.isValidName("web-1.a_b"))
        #expect(!ContainerRuntime.isValidName("-web"))
        #expect(!ContainerRuntime.isValidName("we b"))
        #expect(!ContainerRuntime.isValidName(""))
        #expect(ContainerRuntime.isValidName(NameGenerator.random()))
    }
}
