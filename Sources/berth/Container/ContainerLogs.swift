import ArgumentParser
import BerthEngine
import BerthOCI
import BerthRuntime
import Foundation
import Glibc

/// `berth logs`: fetch the logs of a container from its json-file log.
struct ContainerLogs: AsyncParsableCommand {
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

    func run() async throws {
        let options = LogsOptions(follow: follow, since: since.flatMap { TimeArgument.parse($0) },
                                  until: until.flatMap { TimeArgument.parse($0) }, timestamps: timestamps,
                                  tail: try LogsOptions.tail(tail))
        let logs: ContainerLogReader
        do {
            logs = try global.openEngine().logs(container, options)
        } catch let error as EngineError where error.kind == .notImplemented {
            printDaemonError(error)
            throw ExitCode(1)
        }
        try await logs.run { entries in
            var out: [UInt8] = []
            var err: [UInt8] = []
            for entry in entries {
                if entry.stream == "stderr" { err += options.line(entry) } else { out += options.line(entry) }
            }
            Self.writeAll(1, out)
            Self.writeAll(2, err)
        }
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
