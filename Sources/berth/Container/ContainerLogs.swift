import ArgumentParser
import BerthOCI
import BerthRuntime
import Foundation
import Glibc

/// `berth logs`: fetch the logs of a container from its json-file log.
struct ContainerLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Follow log output.")
    var follow = false

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Number of lines to show from the end of the logs (or \"all\").", valueName: "string"))
    var tail = "all"

    @Flag(name: .shortAndLong, help: "Show timestamps.")
    var timestamps = false

    @Option(help: ArgumentHelp(
        "Show logs since a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).",
        valueName: "string"))
    var since: String?

    @Option(help: ArgumentHelp(
        "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).",
        valueName: "string"))
    var until: String?

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func validate() throws {
        if tail != "all", Int(tail) == nil { throw ValidationError("invalid value for --tail: \(tail)") }
        for (name, value) in [("since", since), ("until", until)] {
            if let value, TimeArgument.parse(value) == nil {
                throw ValidationError("invalid value for \"\(name)\": failed to parse value as time or duration: \"\(value)\"")
            }
        }
    }

    /// Entries inside the --since/--until window (Docker applies it before --tail).
    private func inWindow(_ entries: [JSONLog.Entry], since: Date?, until: Date?) -> [JSONLog.Entry] {
        guard since != nil || until != nil else { return entries }
        return entries.filter { entry in
            guard let time = Timestamp.parse(entry.time) else { return true }
            if let since, time < since { return false }
            if let until, time > until { return false }
            return true
        }
    }

    func run() throws {
        let runtime = try global.openRuntime()
        let record = try runtime.container(container)
        guard record.hostConfig.logConfig?.isReadable ?? true else {
            printError("Error response from daemon: configured logging driver does not support reading")
            throw ExitCode(1)
        }
        let path = runtime.containers.logPath(of: record.id)
        guard access(path, F_OK) == 0 else { return }
        let sinceDate = since.flatMap { TimeArgument.parse($0) }
        let untilDate = until.flatMap { TimeArgument.parse($0) }
        // Rotated files first, oldest first; following never holds the writer back (Docker's
        // followers do not either), so a follower far behind may miss whole rotated files.
        let reader = try LogReader(path: path, includingRotated: true, lossless: false)
        var entries = inWindow(reader.readAvailable(), since: sinceDate, until: untilDate)
        if let count = Int(tail), count >= 0 { entries = Array(entries.suffix(count)) }
        write(entries)
        guard follow else { return }
        while untilDate.map({ Date() <= $0 }) ?? true {
            let running = (try? runtime.containers.record(record.id))??.state.running ?? false
            write(inWindow(reader.readAvailable(), since: sinceDate, until: untilDate))
            if !running { break }
            usleep(100_000)
        }
        write(inWindow(reader.readAvailable(), since: sinceDate, until: untilDate))
    }

    private func write(_ entries: [JSONLog.Entry]) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        for entry in entries {
            var line: [UInt8] = []
            if timestamps { line += Array((Self.fixedNanos(entry.time) + " ").utf8) }
            line += entry.log
            if entry.stream == "stderr" { err += line } else { out += line }
        }
        Self.writeAll(1, out)
        Self.writeAll(2, err)
    }

    /// Docker prints log times with exactly nine fractional digits (RFC3339NanoFixed).
    static func fixedNanos(_ time: String) -> String {
        guard time.hasSuffix("Z"), time.count >= 20 else { return time }
        let base = time.prefix(19)
        var fraction = ""
        if let dot = time.firstIndex(of: ".") {
            fraction = String(time[time.index(after: dot)..<time.index(before: time.endIndex)])
        }
        fraction += String(repeating: "0", count: max(0, 9 - fraction.count))
        return base + "." + fraction.prefix(9) + "Z"
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            if written <= 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
