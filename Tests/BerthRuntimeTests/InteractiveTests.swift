import BerthRuntime
import Foundation
import Glibc
import Testing

/// `-i`, `-t`, `start -a -i` and `exec -t` through the built `berth` binary (root only). The
/// terminal cases run berth on a real pseudo-terminal: util-linux `script` gives it one, and the
/// test types into `script` and reads the screen back.
@Suite(.serialized)
struct InteractiveTests {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs berth with `input` as its stdin (a pipe, closed after the input).
    func berth(_ fixture: RuntimeFixture, _ arguments: [String], input: String = "") throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        process.arguments = ["--root", fixture.root] + arguments
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    func berth(_ fixture: RuntimeFixture, _ arguments: String...) throws -> Output {
        try berth(fixture, arguments)
    }

    static let scriptSkipReason: String? = access("/usr/bin/script", X_OK) == 0
        ? nil : "util-linux script is missing (apt-get install bsdutils)"

    /// berth on a pseudo-terminal of `rows`×`columns`, through `script`.
    final class TerminalSession {
        let process = Process()
        private let input = Pipe()
        private let output = Pipe()
        private var bytes: [UInt8] = []
        /// Where the next `waitFor` starts looking: just after the last match.
        private var cursor = 0
        /// The terminal berth itself runs on (script's).
        private(set) var hostTerminal = ""

        /// Everything the terminal showed so far.
        var screen: String { String(decoding: bytes, as: UTF8.self) }

        init(_ fixture: RuntimeFixture, _ arguments: String, rows: Int = 30, columns: Int = 100) throws {
            let command = "stty rows \(rows) cols \(columns); tty; exec \(RuntimeFixture.berthBinary ?? "") --root \(fixture.root) \(arguments)"
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qfec", command, "/dev/null"]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let start = cursor
            if waitFor("\r\n") {
                hostTerminal = String(decoding: bytes[start..<cursor - 2], as: UTF8.self)
            }
        }

        /// Types `text` (a key like Ctrl-C is its control character).
        func type(_ text: String) {
            input.fileHandleForWriting.write(Data(text.utf8))
        }

        /// Reads the terminal until it shows `text` after the previous match; false if the
        /// session ends (or a minute passes, a safety net against a hung test) first.
        @discardableResult
        func waitFor(_ text: String) -> Bool { next(text) != nil }

        /// What the terminal shows from the previous match up to and including `text`; nil if the
        /// session ends (or a minute passes) first.
        func next(_ text: String) -> String? {
            let start = cursor
            let wanted = Array(text.utf8)
            let deadline = Date().addingTimeInterval(60)
            let descriptor = output.fileHandleForReading.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = find(wanted) {
                    cursor = end
                    return String(decoding: bytes[start..<end], as: UTF8.self)
                }
                guard Date() < deadline else { return nil }
                var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 1, 200) > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count <= 0 { return nil }
                bytes += buffer[0..<count]
            }
        }

        /// The end of the first occurrence of `wanted` at or after the cursor.
        private func find(_ wanted: [UInt8]) -> Int? {
            guard bytes.count - cursor >= wanted.count else { return nil }
            for start in cursor...(bytes.count - wanted.count) where bytes[start..<start + wanted.count].elementsEqual(wanted) {
                return start + wanted.count
            }
            return nil
        }

        /// Waits for the session to end; berth's exit status (script passes it on).
        func finish() -> Int32 {
            bytes += output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            try? input.fileHandleForWriting.close()
            return process.terminationStatus
        }
    }

    @Test func runWithInteractivePassesStdinThrough() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let cat = try berth(fixture, ["run", "-i", "--rm", "--network", "none", "busybox", "cat"], input: "hi\nthere\n")
        #expect(cat.status == 0)
        #expect(cat.stdout == "hi\nthere\n", "\(cat.stderr)")
        let read = try berth(fixture, ["run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "read x; echo got $x"],
                             input: "world\n")
        #expect(read.stdout == "got world\n", "\(read.stderr)")
        // Without -i the container's stdin is empty: cat ends at once.
        let closed = try berth(fixture, ["run", "--rm", "--network", "none", "busybox", "cat"], input: "ignored\n")
        #expect(closed.status == 0)
        #expect(closed.stdout == "")
        // start -a -i of a `create -i` container attaches stdin to the new run.
        #expect(try berth(fixture, "create", "-i", "--name", "upper", "--network", "none", "busybox", "tr", "a-z", "A-Z").status == 0)
        let started = try berth(fixture, ["start", "-a", "-i", "upper"], input: "piped\n")
        #expect(started.status == 0)
        #expect(started.stdout == "PIPED\n", "\(started.stderr)")
        #expect(try berth(fixture, "logs", "upper").stdout == "PIPED\n")
        // StdinOnce: when the attached client goes away (here killed), the container's stdin ends.
        let client = Process()
        client.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        client.arguments = ["--root", fixture.root, "run", "-i", "--name", "orphan", "--network", "none", "busybox", "cat"]
        let held = Pipe()
        client.standardInput = held
        client.standardOutput = FileHandle.nullDevice
        try client.run()
        var status = ""
        for _ in 0..<200 where status != "running\n" {
            status = try berth(fixture, "inspect", "--format", "{{.State.Status}}", "orphan").stdout
            usleep(50_000)
        }
        #expect(status == "running\n")
        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        for _ in 0..<200 where status != "exited 0\n" {
            status = try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "orphan").stdout
            usleep(50_000)
        }
        #expect(status == "exited 0\n")
        try held.fileHandleForWriting.close()
        // Many chunks through a container that writes as it reads: neither side stalls the other.
        let large = String(repeating: "0123456789abcdef\n", count: 40_000)
        let echoed = try berth(fixture, ["run", "-i", "--rm", "--network", "none", "busybox", "cat"], input: large)
        #expect(echoed.stdout.count == large.count)
        #expect(echoed.stdout == large)
    }

    @Test func inspectShowsTheTerminalAndStdinSettings() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let format = "{{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}"
        #expect(try berth(fixture, "create", "-it", "--name", "both", "--network", "none", "busybox").status == 0)
        #expect(try berth(fixture, "inspect", "--format", format, "both").stdout == "true true true true true true\n")
        #expect(try berth(fixture, "create", "-i", "--name", "stdin", "--network", "none", "busybox").status == 0)
        #expect(try berth(fixture, "inspect", "--format", format, "stdin").stdout == "false true true true true true\n")
        #expect(try berth(fixture, "create", "--name", "neither", "--network", "none", "busybox").status == 0)
        #expect(try berth(fixture, "inspect", "--format", format, "neither").stdout == "false false false false true true\n")
        // run -d attaches nothing, so stdin stays open for ever (no StdinOnce), as in Docker.
        #expect(try berth(fixture, "run", "-dit", "--name", "detached", "--network", "none", "busybox").status == 0)
        #expect(try berth(fixture, "inspect", "--format", format, "detached").stdout == "true true false false false false\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}}", "detached").stdout == "running\n")
        #expect(try berth(fixture, "rm", "-f", "detached").status == 0)
    }

    @Test func ttyOutputLandsInTheLog() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "-t", "--name", "teletype", "--network", "none", "busybox",
                            "sh", "-c", "tty; echo $TERM; echo to the log >&2; exit 2")
        #expect(run.status == 2)
        // The terminal turns \n into \r\n, and stderr shares it with stdout.
        #expect(run.stdout.hasPrefix("/dev/pts/"), "\(run.stderr)")
        #expect(run.stdout.hasSuffix("\r\nxterm\r\nto the log\r\n"))
        let logs = try berth(fixture, "logs", "teletype")
        #expect(logs.stdout == run.stdout)
        #expect(logs.stderr == "")
        let logPath = try berth(fixture, "inspect", "--format", "{{.LogPath}}", "teletype").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains(#""stream":"stdout""#) })
    }

    @Test func runInteractiveTerminalNeedsATerminal() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let refused = try berth(fixture, ["run", "-it", "--rm", "--network", "none", "busybox", "sh"], input: "exit\n")
        #expect(refused.status == 1)
        #expect(refused.stderr == "the input device is not a TTY\n")
        #expect(try berth(fixture, "ps", "-aq").stdout == "")
        #expect(try berth(fixture, "run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "60").status == 0)
        let exec = try berth(fixture, ["exec", "-it", "box", "sh"], input: "exit\n")
        #expect(exec.status == 1)
        #expect(exec.stderr == "the input device is not a TTY\n")
    }

    @Test func runInteractiveTerminalIsAUsableShell() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = Self.scriptSkipReason {
            print("SKIPPED \(#function): \(reason)")
            return
        }
        let fixture = try RuntimeFixture()
        let session = try TerminalSession(fixture, "run -it --rm --name shell --network none busybox sh", rows: 33, columns: 101)
        #expect(session.waitFor("# "))
        session.type("tty\r")
        #expect(session.waitFor("/dev/pts/"))
        session.type("stty size\r")
        #expect(session.waitFor("33 101\r\n"))
        // A new size of berth's own terminal (SIGWINCH) reaches the container's.
        #expect(session.hostTerminal.hasPrefix("/dev/pts/"))
        #expect(try runCommand("stty", "-F", session.hostTerminal, "rows", "40", "cols", "120") == 0)
        var resized = false
        for _ in 0..<100 where !resized {
            session.type("stty size\r")
            guard let answer = session.next("/ # ") else { break }
            resized = answer.contains("\r\n40 120\r\n")
        }
        #expect(resized)
        // Typing is echoed by the container's terminal; the answer follows.
        session.type("echo $((6*7))\r")
        #expect(session.waitFor("echo $((6*7))\r\n42\r\n"))

        // Ctrl-C reaches the shell's foreground job through the terminal, and the shell lives on.
        session.type("sleep 1000\r")
        var sleeping = false
        for _ in 0..<200 where !sleeping {
            sleeping = try berth(fixture, "top", "shell").stdout.contains("sleep 1000")
            usleep(50_000)
        }
        #expect(sleeping)
        session.type("\u{03}")
        #expect(session.waitFor("^C"))
        session.type("echo alive-$((1+1))\r")
        #expect(session.waitFor("alive-2\r\n"))
        #expect(!(try berth(fixture, "top", "shell").stdout.contains("sleep 1000")))

        session.type("exit 3\r")
        #expect(session.finish() == 3, "\(session.screen)")
        #expect(try berth(fixture, "ps", "-aq").stdout == "")
    }

    @Test func execInteractiveTerminalIntoARunningContainer() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = Self.scriptSkipReason {
            print("SKIPPED \(#function): \(reason)")
            return
        }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "600").status == 0)
        let session = try TerminalSession(fixture, "exec -it box sh", rows: 25, columns: 90)
        #expect(session.waitFor("# "))
        session.type("tty; stty size; echo $TERM\r")
        #expect(session.waitFor("/dev/pts/"))
        #expect(session.waitFor("25 90\r\nxterm\r\n"))
        session.type("echo $((6*7))\r")
        #expect(session.waitFor("42\r\n"))
        session.type("sleep 1000\r")
        var sleeping = false
        for _ in 0..<200 where !sleeping {
            sleeping = try berth(fixture, "top", "box").stdout.contains("sleep 1000")
            usleep(50_000)
        }
        #expect(sleeping)
        session.type("\u{03}")
        session.type("echo alive-$((1+1))\r")
        #expect(session.waitFor("alive-2\r\n"))
        session.type("exit 4\r")
        #expect(session.finish() == 4, "\(session.screen)")
        // The container runs on; exec -t without a terminal of our own still gets one inside.
        let plain = try berth(fixture, "exec", "-t", "box", "sh", "-c", "tty; exit 5")
        #expect(plain.status == 5)
        #expect(plain.stdout.hasPrefix("/dev/pts/") && plain.stdout.hasSuffix("\r\n"), "\(plain.stderr)")
        // A background process that keeps the terminal open does not hold exec past its command.
        let background = try berth(fixture, "exec", "-t", "box", "sh", "-c", "sleep 1000 & echo bg; exit 6")
        #expect(background.status == 6)
        #expect(background.stdout == "bg\r\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}}", "box").stdout == "running\n")
    }

    @Test func startAttachInteractiveOfACreatedTerminalContainer() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = Self.scriptSkipReason {
            print("SKIPPED \(#function): \(reason)")
            return
        }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "create", "-it", "--name", "later", "--network", "none", "busybox", "sh").status == 0)
        let session = try TerminalSession(fixture, "start -ai later")
        #expect(session.waitFor("# "))
        session.type("echo started-$((2+3))\r")
        #expect(session.waitFor("started-5\r\n"))
        session.type("exit 7\r")
        #expect(session.finish() == 7, "\(session.screen)")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "later").stdout == "exited 7\n")
        #expect(try berth(fixture, "logs", "later").stdout.contains("started-5\r\n"))
        // A second run attaches again, to a fresh shell.
        let again = try TerminalSession(fixture, "start -ai later")
        #expect(again.waitFor("# "))
        again.type("exit 8\r")
        #expect(again.finish() == 8, "\(again.screen)")
    }

    @Test func detachWithControlPControlQThenAttachAgain() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = Self.scriptSkipReason {
            print("SKIPPED \(#function): \(reason)")
            return
        }
        let fixture = try RuntimeFixture()
        let session = try TerminalSession(fixture, "run -it --name lasting --network none busybox sh")
        #expect(session.waitFor("# "))
        session.type("echo one-$((0+1))\r")
        #expect(session.waitFor("one-1\r\n"))
        session.type("\u{10}\u{11}")
        #expect(session.finish() == 0, "\(session.screen)")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}}", "lasting").stdout == "running\n")

        let again = try TerminalSession(fixture, "attach lasting")
        again.type("echo two-$((1+1))\r")
        #expect(again.waitFor("two-2\r\n"))
        again.type("exit 6\r")
        #expect(again.finish() == 6, "\(again.screen)")
        let stopped = try berth(fixture, "attach", "lasting")
        #expect(stopped.status == 1)
        #expect(stopped.stderr == "You cannot attach to a stopped container, start it first\n")
    }

    /// `--detach-keys` replaces Ctrl-P Ctrl-Q: the standard sequence then reaches the container.
    @Test func runDetachesOnTheKeysItWasGiven() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = Self.scriptSkipReason {
            print("SKIPPED \(#function): \(reason)")
            return
        }
        let fixture = try RuntimeFixture()
        let session = try TerminalSession(fixture, "run -it --detach-keys ctrl-x,x --name keyed --network none busybox sh")
        #expect(session.waitFor("# "))
        session.type("\u{10}\u{11}echo still-$((0+1))\r")
        #expect(session.waitFor("still-1\r\n"), "Ctrl-P Ctrl-Q no longer detaches: \(session.screen)")
        session.type("\u{18}x")
        #expect(session.finish() == 0, "\(session.screen)")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}}", "keyed").stdout == "running\n")
        #expect(try berth(fixture, "rm", "-f", "keyed").status == 0)
    }

    @Test func attachToARunningContainerWithoutATerminal() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let script = "echo before; while read line; do echo got-$line; [ \"$line\" = quit ] && exit 4; done"
        #expect(try berth(fixture, "run", "-di", "--name", "reader", "--network", "none", "busybox", "sh", "-c", script).status == 0)
        var logs = ""
        for _ in 0..<200 where logs.isEmpty {
            logs = try berth(fixture, "logs", "reader").stdout
            usleep(50_000)
        }
        #expect(logs == "before\n")
        // Output from now on (not what came before), stdin to the container, its exit code.
        let attached = try berth(fixture, ["attach", "reader"], input: "a\nquit\n")
        #expect(attached.status == 4)
        #expect(attached.stdout == "got-a\ngot-quit\n", "\(attached.stderr)")

        // start -a -i of a container that already runs attaches to it, as Docker's does.
        #expect(try berth(fixture, "run", "-di", "--name", "second", "--network", "none", "busybox",
                          "sh", "-c", "read x; echo second-$x; exit 3").status == 0)
        let started = try berth(fixture, ["start", "-a", "-i", "second"], input: "y\n")
        #expect(started.status == 3)
        #expect(started.stdout == "second-y\n", "\(started.stderr)")
    }
}
