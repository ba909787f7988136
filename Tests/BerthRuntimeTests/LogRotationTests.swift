import Foundation
import Glibc
import Testing

@testable import BerthRuntime

/// `--log-driver` and `--log-opt`: the json-file log's rotation as Docker's driver rotates, `logs`
/// across the rotated files, and the `none` driver, through the built binary (root only).
@Suite(.serialized)
struct LogRotationTests {
    func berth(_ fixture: RuntimeFixture, _ arguments: String...) throws -> BerthCommandResult {
        try berthCommand(fixture, arguments)
    }

    func id(_ fixture: RuntimeFixture, _ name: String) throws -> String {
        try berth(fixture, "inspect", "--format", "{{.Id}}", name).text.trimmingCharacters(in: .newlines)
    }

    /// The log files in the container's directory, by name, with their sizes.
    func logFiles(_ fixture: RuntimeFixture, _ id: String) throws -> [String: Int64] {
        let directory = fixture.runtime.containers.path(of: id)
        var files: [String: Int64] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.contains("-json.log") {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            files[name] = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
        return files
    }

    static let script = "i=0; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); done"
    static let allLines = (0..<600).map { "line-\($0)" }

    @Test func rotationKeepsMaxFileFilesOfAboutMaxSize() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // About 70 bytes an entry: 600 lines make some 42 kB, far more than 3 files of 2 kB.
        let run = try berth(fixture, "run", "--name", "rot", "--network", "none", "--log-opt", "max-size=2k",
                            "--log-opt", "max-file=3", "busybox", "sh", "-c", Self.script)
        #expect(run.status == 0, "\(run.stderr)")
        // The foreground run saw every line, rotations notwithstanding.
        #expect(run.text == Self.allLines.map { $0 + "\n" }.joined())

        let id = try id(fixture, "rot")
        let files = try logFiles(fixture, id)
        #expect(Set(files.keys) == ["\(id)-json.log", "\(id)-json.log.1", "\(id)-json.log.2"])
        // Docker rotates before the entry that finds the file at max-size: one entry over at most.
        #expect(files.values.allSatisfy { $0 <= 2000 + 100 })
        #expect(files["\(id)-json.log.1"].map { $0 >= 2000 } == true)

        // `logs`: the newest lines, oldest file first, ending with the last line.
        let logs = try berth(fixture, "logs", "rot").text.split(separator: "\n").map(String.init)
        #expect(logs.count > 40 && logs.count < 600)
        #expect(logs == Array(Self.allLines.suffix(logs.count)))
        // --tail across the files (each holds about 25 entries).
        #expect(try berth(fixture, "logs", "--tail", "40", "rot").text == Self.allLines.suffix(40).map { $0 + "\n" }.joined())
        #expect(try berth(fixture, "inspect", "--format", "{{json .HostConfig.LogConfig}}", "rot").text
            == "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"3\",\"max-size\":\"2k\"}}\n")

        // A restart appends to the full file, so it rotates at once; still three files.
        let again = try berth(fixture, "start", "-a", "rot")
        #expect(again.status == 0 && again.text == Self.allLines.map { $0 + "\n" }.joined())
        #expect(try logFiles(fixture, id).count == 3)
        #expect(try berth(fixture, "logs", "--tail", "1", "rot").text == "line-599\n")
    }

    @Test func foregroundRunWithRemoveKeepsEveryLine() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // One file of 1 kB and a burst far past it: each rotation deletes a file the run may not
        // have read yet, and --rm removes the directory as soon as the container exits.
        let run = try berth(fixture, "run", "--rm", "--network", "none", "--log-opt", "max-size=1k", "busybox", "seq", "1", "1500")
        #expect(run.status == 0)
        #expect(run.text == (1...1500).map { "\($0)\n" }.joined())
        let quiet = try berth(fixture, "run", "--rm", "--network", "none", "--log-driver", "none", "busybox", "seq", "1", "50000")
        #expect(quiet.text == (1...50000).map { "\($0)\n" }.joined())
    }

    @Test func maxSizeAloneKeepsOneFile() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "--name", "one", "--network", "none", "--log-opt", "max-size=1k", "busybox", "sh", "-c", Self.script)
        #expect(run.status == 0 && run.text.hasSuffix("line-599\n"))
        let id = try id(fixture, "one")
        let files = try logFiles(fixture, id)
        #expect(Array(files.keys) == ["\(id)-json.log"] && (files.values.first ?? 0) <= 1100)
        #expect(try berth(fixture, "logs", "--tail", "1", "one").text == "line-599\n")
    }

    @Test func followContinuesAcrossRotations() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // Slow enough that a follower polling every 100 ms is never two rotations behind.
        let run = try berth(fixture, "run", "-d", "--name", "slow", "--network", "none", "--log-opt", "max-size=1k",
                            "--log-opt", "max-file=2", "busybox", "sh", "-c",
                            "sleep 1; i=0; while [ $i -lt 80 ]; do echo line-$i; i=$((i+1)); usleep 40000; done")
        #expect(run.status == 0, "\(run.stderr)")
        let follow = try berth(fixture, "logs", "-f", "slow")
        #expect(follow.status == 0)
        #expect(follow.text == (0..<80).map { "line-\($0)\n" }.joined())
        #expect(try logFiles(fixture, id(fixture, "slow")).count == 2)
    }

    @Test func noneDriverKeepsNothingReadable() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "--name", "quiet", "--network", "none", "--log-driver", "none",
                            "busybox", "sh", "-c", "echo shown; echo also >&2")
        // Docker's attached run still shows the output.
        #expect(run.status == 0 && run.text == "shown\n" && run.stderr == "also\n")
        let logs = try berth(fixture, "logs", "quiet")
        #expect(logs.status == 1)
        #expect(logs.stderr == "Error response from daemon: configured logging driver does not support reading\n")
        #expect(try berth(fixture, "inspect", "--format", "{{json .HostConfig.LogConfig}} [{{.LogPath}}]", "quiet").text
            == "{\"Type\":\"none\",\"Config\":{}} []\n")
        #expect(try logFiles(fixture, id(fixture, "quiet")) == [:])
    }

    @Test(arguments: [
        (["--log-opt", "max-size=abc"], "failed to initialize logging driver: invalid size: 'abc'"),
        (["--log-opt", "max-size=0"], "failed to initialize logging driver: max-size must be a positive number"),
        (["--log-opt", "max-size=1k", "--log-opt", "max-file=0"], "failed to initialize logging driver: max-file cannot be less than 1"),
        (["--log-opt", "max-file=x"], "failed to initialize logging driver: strconv.Atoi: parsing \"x\": invalid syntax"),
        (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
        (["--log-opt", "compress=true"], "failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set"),
        (["--log-opt", "max-size=1m", "--log-opt", "max-file=2", "--log-opt", "compress=true"],
         "log opt 'compress' of the json-file log driver is not supported by berth"),
        (["--log-driver", "none", "--log-opt", "max-size=1k"], "invalid logging opts for driver none"),
        (["--log-driver", "bogus"], "error looking up logging plugin bogus: plugin \"bogus\" not found"),
        (["--log-driver", "syslog"], "logging driver \"syslog\" is not supported by berth: use json-file or none"),
    ])
    func badLogOptionsCreateNothing(flags: [String], message: String) throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let result = try berthCommand(fixture, ["run", "--network", "none"] + flags + ["busybox", "true"])
        #expect(result.status == 125)
        #expect(result.stderr == "berth: Error response from daemon: \(message)\n\nRun 'berth run --help' for more information\n")
        #expect(try berth(fixture, "ps", "-aq").text == "")
    }
}

/// The pure parts: Docker's size units and option checks.
@Suite struct LogConfigTests {
    @Test func sizesAreDecimalAsInDocker() {
        #expect(LogConfig.parseSize("10m") == 10_000_000)
        #expect(LogConfig.parseSize("2k") == 2000)
        #expect(LogConfig.parseSize("1.5MB") == 1_500_000)
        #expect(LogConfig.parseSize("100 kb") == 100_000)
        #expect(LogConfig.parseSize("3g") == 3_000_000_000)
        #expect(LogConfig.parseSize("512") == 512)
        #expect(LogConfig.parseSize("abc") == nil && LogConfig.parseSize("") == nil && LogConfig.parseSize("1x") == nil)
        #expect(LogConfig.parseSize("-1k") == nil)
    }

    @Test func rotationFromOptions() throws {
        #expect(try LogConfig(driver: nil, options: []).rotation() == LogConfig.Rotation(maxSize: nil, maxFiles: 1))
        #expect(try LogConfig(driver: "json-file", options: ["max-size=10m", "max-file=3"]).rotation()
            == LogConfig.Rotation(maxSize: 10_000_000, maxFiles: 3))
        // Docker accepts max-file without max-size (the file then never rotates).
        #expect(try LogConfig(driver: nil, options: ["max-file=3"]).rotation() == LogConfig.Rotation(maxSize: nil, maxFiles: 3))
        #expect(try LogConfig(driver: nil, options: ["compress=false"]).type == "json-file")
        #expect(try LogConfig(driver: "none", options: []).isReadable == false)
        #expect(throws: RuntimeError.invalidOption("failed to initialize logging driver: invalid size: ''")) {
            try LogConfig(driver: nil, options: ["max-size"])
        }
    }
}

/// The writer and a lossless reader of a rotating log, in one process on a scratch directory
/// (no root needed): the reader gets every entry in order however far behind it falls.
@Suite struct LogFileRotationTests {
    @Test(arguments: [1, 3])
    func losslessReaderSeesEveryEntry(maxFiles: Int) throws {
        let directory = "/tmp/berth-log-test-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/c-json.log"
        let writer = try LogWriter(path: path, rotation: LogConfig.Rotation(maxSize: 500, maxFiles: maxFiles))
        let reader = try LogReader(path: path)
        let count = 3000
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for index in 0..<count { writer.append(Array("entry-\(index)\n".utf8)[...], stream: "stdout") }
            writer.close()
            done.signal()
        }
        var seen: [String] = []
        while seen.count < count {
            seen += reader.readAvailable().map { String(decoding: $0.log, as: UTF8.self) }
            usleep(1000)
        }
        done.wait()
        #expect(seen == (0..<count).map { "entry-\($0)\n" })
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == (["c-json.log"] + (1..<maxFiles).map { "c-json.log.\($0)" }).sorted())
    }
}
