import ArgumentParser
import BerthEngine
import BerthRuntime
import BerthTemplate
import Foundation
import Glibc

/// `berth stats`: CPU, memory, network, block I/O and PIDs of running containers, from cgroups.
struct ContainerStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Display a live stream of container(s) resource usage statistics.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).")
    var all = false

    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result.")
    var noStream = false

    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.")
    var noTrunc = false

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.CPUPerc}}'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Containers (default: all running).", valueName: "container"))
    var containers: [String] = []

    func run() async throws {
        let engine = try global.openEngine()
        repeat {
            let rows = try await engine.sampleUsage(containers, all: all).map { row($0.record, earlier: $0.earlier, later: $0.later) }
            if !noStream { print("\u{1B}[2J\u{1B}[H", terminator: "") }
            let columns = [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"), ("MEM USAGE / LIMIT", "MemUsage"),
                           ("MEM %", "MemPerc"), ("NET I/O", "NetIO"), ("BLOCK I/O", "BlockIO"), ("PIDS", "PIDs")]
            try ListFormatter(format: format, columns: columns, headers: Dictionary(uniqueKeysWithValues: columns.map { ($0.1, $0.0) }),
                              typeName: "*container.statsContext")
                .write(rows)
            fflush(nil)
        } while !noStream
    }

    /// Docker's columns: a stopped container shows zeros, one whose usage cannot be read `--`.
    private func row(_ record: ContainerRecord, earlier: ResourceUsage?, later: ResourceUsage?) -> OrderedJSON {
        let id = noTrunc ? record.id : record.shortID
        guard record.state.running else {
            // dockerd reports a stopped container's stats as zeros.
            return .object([("BlockIO", .string("0B / 0B")), ("CPUPerc", .string("0.00%")), ("Container", .string(id)),
                            ("ID", .string(id)), ("MemPerc", .string("0.00%")), ("MemUsage", .string("0B / 0B")),
                            ("Name", .string(record.name)), ("NetIO", .string("0B / 0B")), ("PIDs", .string("0"))])
        }
        guard let earlier, let later else {
            return .object([("BlockIO", .string("--")), ("CPUPerc", .string("--")), ("Container", .string(id)), ("ID", .string(id)),
                            ("MemPerc", .string("--")), ("MemUsage", .string("-- / --")), ("Name", .string(record.name)),
                            ("NetIO", .string("--")), ("PIDs", .string("--"))])
        }
        let memoryPercent = later.memoryLimit > 0 ? Double(later.memoryUsage) / Double(later.memoryLimit) * 100 : 0
        return .object([
            ("BlockIO", .string(HumanUnits.size(Int64(later.blockRead), precision: 4) + " / " + HumanUnits.size(Int64(later.blockWritten), precision: 4))),
            ("CPUPerc", .string(String(format: "%.2f%%", ResourceUsage.cpuPercent(from: earlier, to: later)))),
            ("Container", .string(id)),
            ("ID", .string(id)),
            ("MemPerc", .string(String(format: "%.2f%%", memoryPercent))),
            ("MemUsage", .string(HumanUnits.binarySize(later.memoryUsage) + " / " + HumanUnits.binarySize(later.memoryLimit))),
            ("Name", .string(record.name)),
            ("NetIO", .string(HumanUnits.size(Int64(later.networkReceived), precision: 4) + " / " + HumanUnits.size(Int64(later.networkSent), precision: 4))),
            ("PIDs", .string(String(later.pids))),
        ])
    }
}
