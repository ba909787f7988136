import Foundation
import Glibc
import Testing

/// Confinement against Docker: one static probe runs in a Berth container and in a Docker
/// container from the same image, with the same options, and must report the same thing: the
/// Seccomp, NoNewPrivs and capability lines of /proc/self/status, which privileged calls the
/// kernel refuses (and with which errno), which devices open, whether /sys and /proc/sys are
/// writable, and what the masked paths show.
@Suite(.serialized, .enabled(if: Peers.confinement, "needs root, dockerd and gcc"))
struct ConfinementTests {
    /// The paths both Docker 20.10 (the peer) and Docker 28 mask; Docker 28 also masks
    /// /proc/interrupts and /sys/devices/virtual/powercap, and so does Berth.
    static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/sched_debug",
        "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/firmware",
    ]

    /// Each check prints `what: ok` or `what: ERRNO`. Calls that could change the machine if they
    /// were let through are made so that they cannot: an invalid time, reboot without its magic
    /// numbers, mounts on a directory of the probe's own that it unmounts, devices opened and
    /// never read or written.
    static let probeSource = #"""
        #define _GNU_SOURCE
        #include <dirent.h>
        #include <errno.h>
        #include <fcntl.h>
        #include <linux/perf_event.h>
        #include <sched.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/mount.h>
        #include <sys/stat.h>
        #include <sys/syscall.h>
        #include <sys/sysmacros.h>
        #include <sys/wait.h>
        #include <time.h>
        #include <unistd.h>

        static void report(const char *what, long rc, int error) {
            printf("%s: %s\n", what, rc < 0 ? strerrorname_np(error) : "ok");
        }

        /* Runs a probe in a child, so the namespaces it makes do not outlive it. */
        static void in_child(const char *what, long (*probe)(void)) {
            pid_t pid = fork();
            if (pid == 0) {
                long rc = probe();
                _exit(rc < 0 ? errno : 0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
            report(what, code ? -1 : 0, code);
        }

        static long mount_tmpfs(void) {
            mkdir("/tmp/.probe-mount", 0700);
            long rc = mount("none", "/tmp/.probe-mount", "tmpfs", 0, NULL);
            int error = errno;
            if (rc == 0) umount2("/tmp/.probe-mount", MNT_DETACH);
            rmdir("/tmp/.probe-mount");
            errno = error;
            return rc;
        }
        static long unshare_user(void) { return unshare(CLONE_NEWUSER); }
        static long unshare_mount(void) { return unshare(CLONE_NEWNS); }
        static long userns_mount(void) {
            if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return -1;
            return mount_tmpfs();
        }

        #define CALL(what, expression) do { errno = 0; long rc_ = (long)(expression); report(what, rc_, errno); } while (0)

        static void device(const char *name, mode_t type, unsigned major, unsigned minor) {
            char path[64], what[96];
            snprintf(path, sizeof path, "/tmp/.probe-%s", name);
            unlink(path);
            snprintf(what, sizeof what, "mknod %s", name);
            CALL(what, mknod(path, type | 0600, makedev(major, minor)));
            snprintf(what, sizeof what, "open %s", name);
            errno = 0;
            int fd = open(path, O_RDONLY | O_NONBLOCK);
            report(what, fd, errno);
            if (fd >= 0) close(fd);
            unlink(path);
        }

        static void open_for_writing(const char *path) {
            char what[160];
            snprintf(what, sizeof what, "open for writing %s", path);
            errno = 0;
            int fd = open(path, O_WRONLY);
            report(what, fd, errno);
            if (fd >= 0) close(fd);
        }

        /* What a masked path shows: a file's first byte, or a directory's entries. */
        static void masked(const char *path) {
            char what[160];
            snprintf(what, sizeof what, "path %s", path);
            struct stat info;
            if (lstat(path, &info) < 0) {
                report(what, -1, errno);
                return;
            }
            if (S_ISDIR(info.st_mode)) {
                DIR *directory = opendir(path);
                int entries = 0;
                struct dirent *entry;
                while (directory && (entry = readdir(directory))) entries += entry->d_name[0] != '.';
                if (directory) closedir(directory);
                printf("%s: directory of %d\n", what, entries);
                return;
            }
            int fd = open(path, O_RDONLY | O_NONBLOCK);
            char byte;
            long count = fd < 0 ? -1 : read(fd, &byte, 1);
            if (count < 0) report(what, -1, errno); else printf("%s: read %ld\n", what, count);
            if (fd >= 0) close(fd);
        }

        int main(int argc, char **argv) {
            FILE *status = fopen("/proc/self/status", "r");
            char line[256];
            while (status && fgets(line, sizeof line, status))
                if (!strncmp(line, "Seccomp:", 8) || !strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "CapEff:", 7)
                    || !strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapBnd:", 7))
                    fputs(line, stdout);
            in_child("unshare user", unshare_user);
            in_child("unshare mount", unshare_mount);
            in_child("mount in a user namespace", userns_mount);
            in_child("mount", mount_tmpfs);
            CALL("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
            CALL("add_key", syscall(SYS_add_key, "user", "berth-probe", "x", 1, -2 /* process keyring */));
            struct perf_event_attr attribute = {.type = PERF_TYPE_SOFTWARE, .size = sizeof attribute,
                                                .config = PERF_COUNT_SW_CPU_CLOCK, .disabled = 1};
            errno = 0;
            long perf = syscall(SYS_perf_event_open, &attribute, 0, -1, -1, 0);
            report("perf_event_open", perf, errno);
            if (perf >= 0) close((int)perf);
            struct timespec invalid = {.tv_sec = 0, .tv_nsec = 2000000000};
            CALL("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &invalid));
            CALL("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
            CALL("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
            CALL("clone3", syscall(SYS_clone3, NULL, 0));
            CALL("setns", syscall(SYS_setns, -1, 0));
            CALL("bpf", syscall(SYS_bpf, -1, NULL, 0));
            CALL("chroot", chroot("/"));
            device("full", S_IFCHR, 1, 7);
            device("kmsg", S_IFCHR, 1, 11);
            device("tun", S_IFCHR, 10, 200);
            device("fuse", S_IFCHR, 10, 229);
            device("loop0", S_IFBLK, 7, 0);
            CALL("mkdir in /sys", mkdir("/sys/berth-probe", 0700));
            open_for_writing("/proc/sys/vm/drop_caches");
            open_for_writing("/proc/sysrq-trigger");
            for (int index = 1; index < argc; index++) masked(argv[index]);
            puts("done");
            return 0;
        }
        """#

    /// The probe, built with `gcc -static` so it runs in any image, and cached by its source's
    /// FNV-1a hash (built under a name of this process's own, then renamed into place).
    static let probe: Result<String, PeerError> = {
        let hash = probeSource.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let path = Fixtures.directory + "/confinement-probe-" + String(hash, radix: 16)
        if access(path, X_OK) == 0 { return .success(path) }
        let source = "\(path).\(getpid()).c", output = "\(path).\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: Fixtures.directory, withIntermediateDirectories: true)
            try Data(probeSource.utf8).write(to: URL(fileURLWithPath: source))
            defer { unlink(source) }
            let result = try Command.run("gcc", ["-static", "-O1", "-Wall", "-Werror", "-o", output, source])
            guard result.succeeded, rename(output, path) == 0 else { return .failure(.failed("gcc", result)) }
            return .success(path)
        } catch {
            return .failure(.failed("gcc: \(error)", CommandResult(arguments: [], status: -1, signaled: false, stdout: Data(), stderr: Data())))
        }
    }()

    /// The probe's report from a `run --rm` of busybox with `options`, by Berth and by Docker.
    static func reports(_ sandbox: BerthSandbox, _ options: [String], paths: [String] = maskedPaths,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> (berth: String, docker: CommandResult) {
        let probe = try Self.probe.get()
        let arguments = ["run", "--rm"] + options + ["-v", probe + ":/probe:ro", "busybox", "/probe"] + paths
        let berth = try sandbox.run(arguments)
        #expect(berth.succeeded && berth.out.hasSuffix("done\n"), "\(berth)", sourceLocation: sourceLocation)
        return (berth.out, try docker(arguments))
    }

    static func docker(_ arguments: [String]) throws -> CommandResult {
        try PeerDocker.start()
        return try Command.run("docker", arguments, environment: PeerDocker.environment)
    }

    /// Berth's report equals Docker's, line for line.
    static func expectSameReport(_ sandbox: BerthSandbox, _ options: [String],
                                 sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: String] {
        let (berth, docker) = try reports(sandbox, options, sourceLocation: sourceLocation)
        #expect(docker.succeeded, "\(docker)", sourceLocation: sourceLocation)
        let berthLines = berth.split(separator: "\n"), dockerLines = docker.out.split(separator: "\n")
        #expect(berthLines.count == dockerLines.count, "options \(options)", sourceLocation: sourceLocation)
        for (mine, theirs) in zip(berthLines, dockerLines) {
            #expect(mine == theirs, "options \(options)", sourceLocation: sourceLocation)
        }
        return fields(berth)
    }

    /// A report's lines by what they describe: `unshare user` → `EPERM`, `Seccomp` → `2`.
    static func fields(_ report: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in report.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    /// The capability sets of this process, which a privileged container gets.
    static var ownBoundingSet: String {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return fields(status)["CapBnd"] ?? ""
    }

    @Test func theDefaultConfinementMatchesDockers() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let report = try Self.expectSameReport(sandbox, [])
        // What the comparison covers is confinement indeed.
        #expect(report["Seccomp"] == "2" && report["NoNewPrivs"] == "0", "\(report)")
        for call in ["unshare user", "unshare mount", "mount in a user namespace", "mount", "keyctl", "add_key",
                     "perf_event_open", "clock_settime", "reboot", "open_by_handle_at", "open kmsg", "open fuse"] {
            #expect(report[call] == "EPERM", "\(call): \(report[call] ?? "missing")")
        }
        #expect(report["mkdir in /sys"] == "EROFS" && report["open for writing /proc/sys/vm/drop_caches"] == "EROFS")
        #expect(report["path /proc/timer_list"] == "read 0" && report["path /sys/firmware"] == "directory of 0")

        // Berth masks what Docker 28 masks beyond the peer's list.
        let (berth, _) = try Self.reports(sandbox, [], paths: ["/proc/interrupts"])
        #expect(Self.fields(berth)["path /proc/interrupts"] == "read 0", "\(berth)")
    }

    @Test func droppingEveryCapabilityStillConfinesAsDockerDoes() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let report = try Self.expectSameReport(sandbox, ["--cap-drop", "ALL"])
        #expect(report["CapBnd"] == "0000000000000000" && report["Seccomp"] == "2", "\(report)")
        #expect(report["unshare user"] == "EPERM" && report["keyctl"] == "EPERM" && report["perf_event_open"] == "EPERM")
        // Without the seccomp filter, a process with no capabilities may still make a user namespace.
        let unconfined = try Self.expectSameReport(sandbox, ["--cap-drop", "ALL", "--security-opt", "seccomp=unconfined"])
        #expect(unconfined["Seccomp"] == "0" && unconfined["unshare user"] == "ok", "\(unconfined)")
    }

    @Test func securityOptionsChangeWhatDockerSaysTheyChange() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let unconfined = try Self.expectSameReport(sandbox, ["--security-opt", "seccomp=unconfined"])
        #expect(unconfined["Seccomp"] == "0" && unconfined["keyctl"] == "ok" && unconfined["clock_settime"] == "EINVAL",
                "\(unconfined)")
        let noNewPrivileges = try Self.expectSameReport(sandbox, ["--security-opt", "no-new-privileges"])
        #expect(noNewPrivileges["NoNewPrivs"] == "1")
        let systemPaths = try Self.expectSameReport(sandbox, ["--security-opt", "systempaths=unconfined"])
        #expect(systemPaths["path /proc/timer_list"] == "read 1" && systemPaths["Seccomp"] == "2", "\(systemPaths)")
        // CAP_SYS_ADMIN opens the calls the profile keeps for it.
        let admin = try Self.expectSameReport(sandbox, ["--cap-add", "SYS_ADMIN"])
        #expect(admin["mount"] == "ok" && admin["unshare mount"] == "ok" && admin["keyctl"] == "EPERM", "\(admin)")

        // A profile of one's own, in Docker's format.
        let profile = sandbox.scratch + "/profile.json"
        try Data("""
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [
                {"names": ["keyctl", "add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"name": "chroot", "action": "SCMP_ACT_ERRNO"}
              ]
            }
            """.utf8).write(to: URL(fileURLWithPath: profile))
        let custom = try Self.expectSameReport(sandbox, ["--security-opt", "seccomp=" + profile])
        #expect(custom["keyctl"] == "ENOSYS" && custom["chroot"] == "EPERM" && custom["clone3"] == "EINVAL", "\(custom)")
    }

    @Test func privilegedLiftsTheConfinement() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let (berth, docker) = try Self.reports(sandbox, ["--privileged"])
        let report = Self.fields(berth)
        if docker.succeeded {
            #expect(berth == docker.out)
        } else {
            // dockerd asks runc for every capability the kernel knows, which fails when this
            // process's bounding set lacks one; Berth grants those it has.
            #expect(docker.err.contains("unable to apply caps"), "\(docker)")
            FileHandle.standardError.write(Data("integration: Docker cannot run --privileged here (\(Self.ownBoundingSet)); checking Berth alone\n".utf8))
        }
        #expect(report["Seccomp"] == "0" && report["CapBnd"] == Self.ownBoundingSet && report["CapEff"] == Self.ownBoundingSet,
                "\(report)")
        for call in ["unshare user", "unshare mount", "mount", "keyctl", "add_key", "open kmsg",
                     "open for writing /proc/sys/vm/drop_caches"] {
            #expect(report[call] == "ok", "\(call): \(report[call] ?? "missing")")
        }
        #expect(report["mkdir in /sys"] != "EROFS" && report["clock_settime"] == "EINVAL" && report["reboot"] == "EINVAL")
        // Nothing masked: each path shows what Docker shows without masks.
        let unmasked = try Self.expectSameReport(sandbox, ["--security-opt", "systempaths=unconfined"])
        for path in Self.maskedPaths {
            #expect(report["path " + path] == unmasked["path " + path], "\(path)")
        }
    }

    @Test func buildStepsAreConfinedAsDockersAre() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let context = sandbox.scratch + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Self.probe.get(), toPath: context + "/probe")
        try Data("""
            FROM busybox
            COPY probe /probe
            RUN /probe \(Self.maskedPaths.joined(separator: " ")) > /probe.out

            """.utf8).write(to: URL(fileURLWithPath: context + "/Dockerfile"))
        try sandbox.ok("build", "-q", "-t", "berth-confinement-probe", context)
        let berth = try sandbox.ok("run", "--rm", "berth-confinement-probe", "cat", "/probe.out")

        try PeerDocker.checked("build", "-q", "-t", "berth-confinement-probe", context)
        defer { _ = try? PeerDocker.docker("rmi", "-f", "berth-confinement-probe") }
        let docker = try PeerDocker.checked("run", "--rm", "berth-confinement-probe", "cat", "/probe.out")
        #expect(berth == docker + "\n")
        let report = Self.fields(berth)
        #expect(report["Seccomp"] == "2" && report["unshare user"] == "EPERM" && report["path /proc/timer_list"] == "read 0",
                "\(report)")
    }

    @Test func securityOptionsAreRecordedAndRefusedAsDockerDoes() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let profile = sandbox.scratch + "/profile.json"
        try Data("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n".utf8).write(to: URL(fileURLWithPath: profile))
        let cases: [[String]] = [
            [],
            ["--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges"],
            ["--security-opt", "seccomp=" + profile, "--security-opt", "label=user:x"],
            ["--security-opt", "systempaths=unconfined"],
            ["--privileged"],
        ]
        let fields = "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.ReadonlyPaths}} {{json .HostConfig.Privileged}}"
        for options in cases {
            let berth = try sandbox.run(["create"] + options + ["busybox"])
            try #require(berth.succeeded, "\(berth)")
            let docker = try Self.docker(["create"] + options + ["busybox"])
            try #require(docker.succeeded, "\(docker)")
            let created = docker.out.trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? PeerDocker.docker("rm", "-f", created) }
            #expect(try sandbox.ok("inspect", "-f", fields, berth.out.trimmingCharacters(in: .whitespacesAndNewlines))
                    == (try PeerDocker.checked("inspect", "-f", fields, created)) + "\n", "\(options)")
        }
        // The masked paths are Docker 28's; the peer's list is shorter, but the same kind of value.
        let id = try sandbox.ok("create", "--security-opt", "systempaths=unconfined", "busybox")
        #expect(try sandbox.ok("inspect", "-f", "{{json .HostConfig.MaskedPaths}}", id.trimmingCharacters(in: .whitespacesAndNewlines)) == "[]\n")

        let before = try sandbox.ok("ps", "-a", "-q")
        for (option, message) in [("foo", #"invalid --security-opt: "foo""#), ("seccomp=", #"invalid --security-opt: "seccomp=""#),
                                  ("foo=bar", #"invalid --security-opt 2: "foo=bar""#),
                                  ("no-new-privileges=maybe", #"invalid --security-opt 2: "no-new-privileges=maybe""#),
                                  ("seccomp=/nonexistent.json", "opening seccomp profile (/nonexistent.json) failed: open /nonexistent.json: no such file or directory")] {
            let berth = try sandbox.run("run", "--rm", "--security-opt", option, "busybox", "true")
            let docker = try PeerDocker.docker("run", "--rm", "--security-opt", option, "busybox", "true")
            #expect(!berth.succeeded && berth.err.contains(message), "\(berth)")
            #expect(!docker.succeeded && docker.err.lowercased().contains(message.lowercased()), "\(docker)")
        }
        #expect(try sandbox.ok("ps", "-a", "-q") == before)
    }
}
