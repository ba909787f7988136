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

    @Argument(help: ArgumentHelp("Containers to inspect.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try InspectPrinter(format: format, missingNoun: "container").print(containers) { reference in
            try ContainerInspectJSON.document(for: runtime.container(reference), runtime: runtime)
        }
    }
}

/// The inspect document lives in the engine; `inspect` of any object reaches it by this name.
typealias ContainerInspectJSON = BerthEngine.ContainerInspectJSON
