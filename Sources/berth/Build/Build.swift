import ArgumentParser
import BerthDockerfile
import Foundation

/// `berth build`. This version checks Dockerfiles (`--check`); building images comes with the
/// builder (issue #4) and is refused with a clear message until then.
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an image from a Dockerfile.",
        discussion: "With --check, parse and lint the Dockerfile (BuildKit's build checks) without building.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Name of the Dockerfile (default: PATH/Dockerfile).", valueName: "string"))
    var file: String?

    @ArgumentParser.Flag(help: "Check the Dockerfile for errors and warnings without building.")
    var check = false

    @Argument(help: ArgumentHelp("Build context directory.", valueName: "PATH"))
    var context: String

    func run() throws {
        guard check else {
            throw ValidationError("building images is not available in this version of berth; use --check to lint a Dockerfile")
        }
        let path = file ?? (context == "-" ? "-" : context + "/Dockerfile")
        let text: String
        if path == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("failed to read Dockerfile: open \(path): no such file or directory")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let name = (path as NSString).lastPathComponent
        let report = try BerthDockerfile.lint(text, fileName: name == "-" ? "Dockerfile" : name)
        for warning in report.warnings {
            print("WARNING: \(warning.rule) - \(warning.fileName):\(warning.line)\n\(warning.message)")
        }
        let count = report.warnings.count
        print(count == 0 ? "Check complete, no warnings found."
                         : "Check complete, \(count) warning\(count == 1 ? " has" : "s have") been found!")
        if report.failsBuild { throw ExitCode(1) }
    }
}
