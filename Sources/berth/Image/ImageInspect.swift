import ArgumentParser
import BerthEngine
import BerthNetwork
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation

/// `berth image inspect`.
struct ImageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more images.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Images to inspect.", valueName: "image"))
    var images: [String]

    func run() throws {
        let engine = try global.openEngine()
        try InspectPrinter(format: format, missingNoun: "image").print(images) { name in
            try engine.inspectImage(name)
        }
    }
}

/// `berth inspect`: low-level information on containers and images.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Return low-level information on Berth objects.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Option(help: ArgumentHelp("Only inspect objects of the given type (container or image).", valueName: "string"))
    var type: String?

    @Flag(name: .shortAndLong, help: "Display total file sizes if the type is container.")
    var size = false

    @Argument(help: ArgumentHelp("Names or IDs.", valueName: "name|id"))
    var names: [String]

    func validate() throws {
        if let type, type != "image", type != "container" {
            throw ValidationError("\"\(type)\" is not a valid value for --type")
        }
    }

    func run() throws {
        let engine = try global.openEngine()
        let runtime = type != "image" ? try global.openRuntime() : nil
        try InspectPrinter(format: format, missingNoun: "object").print(names) { name in
            // Containers first, then images, as Docker looks objects up.
            if let runtime {
                do {
                    let record = try runtime.container(name)
                    return ContainerInspectJSON.document(for: record, runtime: runtime, size: size ? engine.containerSize(record) : nil)
                } catch RuntimeError.noSuchContainer where type == nil {}
            }
            return try engine.inspectImage(name)
        }
    }
}

/// Prints inspect documents as Docker does: an indented JSON array, or one template rendering per
/// object. Objects that are not found are reported on stderr and make the command fail, after the
/// others were printed.
struct InspectPrinter {
    var format: String?
    /// What Docker calls a missing object in this command ("image", or "object" for `inspect`).
    var missingNoun: String

    func print(_ names: [String], document: (String) throws -> OrderedJSON) throws {
        var documents: [OrderedJSON] = []
        var failures: [String] = []
        for name in names {
            do {
                documents.append(try document(name))
            } catch StoreError.noSuchImage(let missing) {
                failures.append("Error: No such \(missingNoun): \(missing)")
            } catch let error as EngineError where error.kind == .notFound {
                failures.append("Error: No such \(missingNoun): \(name)")
            } catch RuntimeError.noSuchContainer(let missing) {
                failures.append("Error: No such container: \(missing)")
            } catch RuntimeError.noSuchVolume(let missing) {
                failures.append("Error: No such volume: \(missing)")
            } catch NetworkError.unknownNetwork(let missing) {
                failures.append("Error: No such network: \(missing)")
            }
        }
        if let format, !format.isEmpty, format != "json" {
            // Docker's inspect: a parse error exits 64; a document the template fails on is
            // reported after the others, and an empty output is still one line.
            let template = try templateOrExit64(format)
            var output = ""
            for document in documents {
                do {
                    output += try InspectFormat.render(template, document) + "\n"
                } catch let error as TemplateExecutionError {
                    failures.append("template parsing error: \(error)")
                }
            }
            Swift.print(output.isEmpty ? "" : output, terminator: output.isEmpty ? "\n" : "")
        } else if format == "json" {
            Swift.print(OrderedJSON.array(documents).compact)
        } else {
            Swift.print(OrderedJSON.array(documents).indented())
        }
        for failure in failures { printError(failure) }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
