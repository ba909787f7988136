import BerthRuntime
import Foundation
import Glibc
import Testing

/// The container commands through the built `berth` binary (root only).
@Suite(.serialized)
struct CommandLineTests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func berth(_ fixture: RuntimeFixture, _ arguments: String...) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        process.arguments = ["--root", fixture.root] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func foregroundRunStreamsOutputAndExitsWithTheContainersCode() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let result = try berth(fixture, "run", "--rm", "--network", "none", "-e", "WHO=world", "busybox",
                               "sh", "-c", "echo hello $WHO; echo oops >&2; exit 4")
        #expect(result.status == 4)
        #expect(result.stdout == "hello world\n")
        #expect(result.stderr == "oops\n")
        #expect(try berth(fixture, "ps", "-aq").stdout == "")
    }

    @Test func detachedLifecycle() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "-d", "--name", "ticker", "--network", "none", "busybox",
                            "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
        #expect(run.status == 0)
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64)
        #expect(try berth(fixture, "ps", "-q").stdout == String(id.prefix(12)) + "\n")
        let table = try berth(fixture, "ps").stdout.split(separator: "\n")
        #expect(table.first?.hasPrefix("CONTAINER ID   IMAGE     COMMAND") == true)
        #expect(table.count == 2 && table[1].contains("Up ") && table[1].hasSuffix("ticker"))

        var logs = ""
        for _ in 0..<50 where logs.isEmpty {
            logs = try berth(fixture, "logs", "ticker").stdout
            usleep(20_000)
        }
        #expect(logs == "ready\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.Name}}", "ticker").stdout == "running /ticker\n")
        #expect(try berth(fixture, "stop", "ticker").status == 0)
        #expect(try berth(fixture, "ps", "-a", "--format", "{{.Status}}").stdout.hasPrefix("Exited (0) "))
        #expect(try berth(fixture, "wait", "ticker").stdout == "0\n")
        #expect(try berth(fixture, "rm", "ticker").stdout == "ticker\n")
        #expect(fixture.leftovers(id) == [])
        let missing = try berth(fixture, "rm", "ticker")
        #expect(missing.status == 1 && missing.stderr.contains("No such container: ticker"))
    }
}
