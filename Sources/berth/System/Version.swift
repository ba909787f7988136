import ArgumentParser
import BerthEngine
import BerthEngineAPI
import BerthTemplate
import Foundation

/// `berth version`: the client's and the engine's versions, in the docker CLI's layout. Berth's
/// CLI is its own engine, so the Server section is what `berth serve` answers on `/version`.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Show the Berth version information.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a custom template: 'json', or a Go template.", valueName: "string"))
    var format: String?

    func run() throws {
        let server = Engine.versionDocument(
            apiVersion: APIVersion.current.description, minimumAPIVersion: APIVersion.minimum.description)
        let client: OrderedJSON = .object([
            ("Platform", .object([("Name", .string("Berth"))])),
            ("Version", .string(Engine.version)),
            ("ApiVersion", .string(APIVersion.current.description)),
            ("DefaultAPIVersion", .string(APIVersion.current.description)),
            ("GitCommit", .string("berth")),
            ("GoVersion", .string("swift")),
            ("Os", .string("linux")),
            ("Arch", .string(SystemFacts.goArchitecture)),
            ("BuildTime", .string("")),
            ("Context", .string("default")),
        ])
        let document: OrderedJSON = .object([("Client", client), ("Server", server)])
        if let format {
            // Templates see the docker CLI's Go field names, where `APIVersion` is JSON's `ApiVersion`.
            print(try render(format, format.contains("APIVersion") ? Self.goFieldNames(document) : document))
            return
        }
        // The docker CLI's tabwriter: minimum cell width 20, padding 1.
        func line(_ indent: String, _ label: String, _ value: OrderedJSON?) -> String {
            let cell = indent + label + ":"
            return cell + String(repeating: " ", count: max(1, 20 - cell.count)) + (value.map(GoTemplate.format) ?? "")
        }
        var lines = ["Client: Berth"]
        lines.append(line(" ", "Version", client["Version"]))
        lines.append(line(" ", "API version", client["ApiVersion"]))
        lines.append(line(" ", "Go version", client["GoVersion"]))
        lines.append(line(" ", "Git commit", client["GitCommit"]))
        lines.append(line(" ", "Built", client["BuildTime"]))
        lines.append(line(" ", "OS/Arch", .string("linux/\(SystemFacts.goArchitecture)")))
        lines.append(line(" ", "Context", client["Context"]))
        lines += ["", "Server: Berth"]
        if case .array(let components)? = server["Components"] {
            for component in components {
                let name = component["Name"].map(GoTemplate.format) ?? ""
                let details = component["Details"]
                lines.append(" \(name):")
                lines.append(line("  ", "Version", component["Version"]))
                if name == "Engine" {
                    let api = "\(GoTemplate.format(details?["ApiVersion"] ?? .null)) (minimum version \(GoTemplate.format(details?["MinAPIVersion"] ?? .null)))"
                    lines.append(line("  ", "API version", .string(api)))
                    lines.append(line("  ", "Go version", details?["GoVersion"]))
                    lines.append(line("  ", "Git commit", details?["GitCommit"]))
                    lines.append(line("  ", "Built", details?["BuildTime"]))
                    lines.append(line("  ", "OS/Arch", .string("\(GoTemplate.format(details?["Os"] ?? .null))/\(GoTemplate.format(details?["Arch"] ?? .null))")))
                    lines.append(line("  ", "Experimental", details?["Experimental"]))
                } else if case .object(let members)? = details {
                    for (key, value) in members { lines.append(line("  ", key, value)) }
                }
            }
        }
        print(lines.joined(separator: "\n"))
    }
}

extension Version {
    /// The document with `ApiVersion` named `APIVersion` in its sections, as the docker CLI's
    /// structs name the field for templates (`{{.Server.APIVersion}}`).
    static func goFieldNames(_ document: OrderedJSON) -> OrderedJSON {
        guard case .object(let sections) = document else { return document }
        return .object(sections.map { name, section in
            guard case .object(let fields) = section else { return (name, section) }
            return (name, .object(fields.map { ($0.0 == "ApiVersion" ? "APIVersion" : $0.0, $0.1) }))
        })
    }
}

/// Renders a `--format` value over one document as the docker CLI does: `json` is `{{json .}}`;
/// a template that does not parse exits 64, as `docker version` and `docker info` do.
func render(_ format: String, _ document: OrderedJSON) throws -> String {
    if format == "json" { return document.compact }
    return try templateOrExit64(format).render(document)
}
