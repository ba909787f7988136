import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation

/// `berth container inspect`.
struct ContainerInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Flag(name: .shortAndLong, help: "Display total file sizes.")
    var size = false

    @Argument(help: ArgumentHelp("Containers to inspect.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let engine = try global.openEngine()
        try InspectPrinter(format: format, missingNoun: "container").print(containers) { reference in
            let record = try engine.runtime.container(reference)
            return ContainerInspectJSON.document(for: record, runtime: engine.runtime, size: size ? engine.containerSize(record) : nil)
        }
    }
}

/// The inspect document lives in the engine; `inspect` of any object reaches it by this name.
typealias ContainerInspectJSON = BerthEngine.ContainerInspectJSON
