import ArgumentParser
import BerthEngine
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation
import Glibc

/// `berth events` (and `system events`): what every process on the root does, as it happens —
/// another shell's `run`, `berth serve`'s requests — or the logged events of a time span.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Get real time events from the server.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Filter output based on conditions provided (type=, event=, container=, image=, network=, volume=, label=, scope=).", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Show all events created since timestamp.", valueName: "string"))
    var since: String?

    @Option(help: ArgumentHelp("Stream events until this timestamp.", valueName: "string"))
    var until: String?

    @Option(help: ArgumentHelp("Format output using a custom template: 'json', or a Go template.", valueName: "string"))
    var format: String?

    /// The filters dockerd's `/events` knows.
    static let filterKeys: Set<String> = [
        "config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret",
        "service", "type", "volume",
    ]

    func run() async throws {
        let filters: Filters
        do {
            filters = try Filters(cli: filter)
            try filters.validate(Self.filterKeys)
        } catch let error as EngineError {
            printError("Error response from daemon: \(error.message)")
            throw ExitCode(1)
        }
        let sinceDate = try since.map { try Self.time($0, "since") }
        let untilDate = try until.map { try Self.time($0, "until") }
        if let sinceDate, let untilDate, untilDate < sinceDate {
            printError("Error response from daemon: `since` time (\(since ?? "")) cannot be after `until` time (\(until ?? ""))")
            throw ExitCode(1)
        }
        let template = try format.flatMap { $0 == "json" ? nil : try templateOrExit64($0, prefix: "Error parsing format") }
        let engine = try global.openEngine()
        for await event in engine.events.follow(since: sinceDate, until: untilDate, filters: filters) {
            let line: String
            if format == "json" {
                line = event.json(legacyFields: true)
            } else if let template {
                line = try template.render(try OrderedJSON.parse(Array(event.json(legacyFields: true).utf8)))
            } else {
                line = Self.text(event)
            }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    private static func time(_ value: String, _ flag: String) throws -> Date {
        guard let date = DockerTime.parse(value) else {
            throw ValidationError("invalid value for --\(flag): \(value) is not a timestamp or a duration")
        }
        return date
    }

    /// The docker CLI's line: the time (RFC 3339 with nanoseconds), type, action, actor ID, then
    /// the attributes sorted by name.
    static func text(_ event: Event) -> String {
        var seconds = time_t(event.timeNano / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let nanoseconds = String(event.timeNano % 1_000_000_000)
        let stamp = Timestamp.dateAndTime(parts, separator: "T") + "."
            + String(repeating: "0", count: 9 - nanoseconds.count) + nanoseconds + "Z"
        var line = "\(stamp) \(event.type.rawValue) \(event.action) \(event.actor.id)"
        if !event.actor.attributes.isEmpty {
            line += " (" + event.actor.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ", ") + ")"
        }
        return line
    }
}
