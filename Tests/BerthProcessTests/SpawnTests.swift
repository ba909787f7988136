import Foundation
import Glibc
import Testing

@testable import BerthProcess

@Suite struct SpawnTests {
    @Test func runCapturesBothStreamsAndTheExitStatus() throws {
        let output = try Spawn.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(output.status == 3)
        #expect(output.stdoutText == "out\n")
        #expect(output.stderrText == "err\n")
    }

    @Test func aChildKilledBySignalReportsItAsAShellDoes() throws {
        #expect(try Spawn.run(["sh", "-c", "kill -TERM $$"]).status == 128 + SIGTERM)
    }

    @Test func inputLargerThanAPipeBufferReachesTheChildWhileItsOutputIsDrained() throws {
        // 1 MiB each way: more than a pipe holds, so feeding and draining must interleave.
        let input = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let output = try Spawn.run(["cat"], input: input)
        #expect(output.status == 0)
        #expect(output.stdout == input)
    }

    @Test func aChildThatIgnoresItsInputDoesNotKillTheCaller() throws {
        let output = try Spawn.run(["true"], input: Data(repeating: 0x61, count: 1 << 20))
        #expect(output.status == 0)
    }

    @Test func withoutInputStdinIsDevNull() throws {
        let output = try Spawn.run(["sh", "-c", "readlink /proc/self/fd/0"])
        #expect(output.stdoutText == "/dev/null\n")
    }

    @Test func anEnvironmentReplacesTheCallers() throws {
        let output = try Spawn.run(["/usr/bin/env"], environment: ["BERTH_SPAWN_TEST": "1"])
        #expect(output.stdoutText == "BERTH_SPAWN_TEST=1\n")
    }

    @Test func theChildGetsOnlyTheDescriptorsItIsGiven() throws {
        // A descriptor this process holds without close-on-exec (F_DUPFD does not copy the flag),
        // numbered above anything the child opens itself, must not reach the child.
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try #require(null >= 0)
        let leaked = fcntl(null, F_DUPFD, 60)
        close(null)
        try #require(leaked >= 60)
        defer { close(leaked) }
        let pipe = try Pipe.make()
        defer { close(pipe.read) }
        let pid: pid_t
        do {
            pid = try Spawn.start(["sh", "-c", "ls /proc/self/fd >&5"], descriptors: [(pipe.write, 5)])
        } catch {
            pipe.closeBoth()
            throw error
        }
        close(pipe.write)
        var listing = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipe.read, &buffer, buffer.count)
            if count <= 0 { break }
            listing.append(contentsOf: buffer[0..<count])
        }
        #expect(Spawn.wait(pid) == 0)
        // 0–2 (/dev/null), 5 (the pipe) and the descriptor `ls` opens on the directory.
        let descriptors = Set(String(decoding: listing, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) })
        #expect(descriptors.isSuperset(of: [0, 1, 2, 5]))
        #expect(!descriptors.contains(leaked))
        #expect(descriptors.count == 5)
    }

    @Test func aMissingProgramFailsToStartWithItsName() {
        #expect {
            _ = try Spawn.run(["berth-no-such-program"])
        } throws: { error in
            "\(error)" == "start berth-no-such-program: No such file or directory"
        }
    }

    @Test func waitWithATimeoutKillsAChildThatOutlivesIt() throws {
        let pid = try Spawn.start(["sleep", "30"])
        #expect(Spawn.wait(pid, timeout: 0.1) == nil)
        #expect(kill(pid, 0) == -1)
    }

    /// A guarded child: its guard reports its status as a shell would, passes only the mapped
    /// descriptors, and ends what the child leaves behind (here a background `sleep` that holds
    /// the output pipe, which would otherwise stay open for 300 s).
    @Test(arguments: [("exit 5", Int32(5)), ("kill -TERM $$", 128 + SIGTERM)])
    func aGuardedChildReportsItsStatusAndTakesWhatItLeftWithIt(ending: String, status: Int32) throws {
        let pipe = try Pipe.make()
        let guardPID = try Spawn.start(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; sleep 300 & echo $!; \(ending)"],
                                       descriptors: [(pipe.write, 1)], guarded: true)
        close(pipe.write)
        let handle = FileHandle(fileDescriptor: pipe.read, closeOnDealloc: true)
        let output = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        #expect(Spawn.wait(guardPID) == status)
        let lines = output.split(separator: "\n")
        #expect(lines.first == "0 1 2 3 ", "the child has descriptors it was not given: \(output)")
        let sleeper = try #require(lines.last.flatMap { pid_t($0) }, "no pid in \(output)")
        let command = FileHandle(forReadingAtPath: "/proc/\(sleeper)/cmdline").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }
        #expect(command?.hasPrefix("sleep") != true, "the child's background sleep outlived it")
    }
}
