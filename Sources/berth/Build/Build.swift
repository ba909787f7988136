import ArgumentParser
import BerthArchive
import BerthBuild
import BerthDockerfile
import BerthEngine
import BerthOCI
import BerthRuntime
import Foundation

/// `berth build`: builds an image from a Dockerfile and a context directory, with BuildKit's plain
/// progress; `--check` only lints the Dockerfile.
struct Build: AsyncParsableCommand, GoBoolSwitches {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a Dockerfile.",
        discussion: "With --check, parse and lint the Dockerfile (BuildKit's build checks) without building.")

    static let goBoolSwitches = ["--pull": "--pull"]

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Name of the Dockerfile (default: PATH/Dockerfile).", valueName: "string"))
    var file: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Name and optionally a tag (format: name:tag).", valueName: "list"))
    var tag: [String] = []

    @Option(name: .customLong("build-arg"), help: ArgumentHelp("Set build-time variables.", valueName: "list"))
    var buildArg: [String] = []

    @Option(help: ArgumentHelp("Set metadata for an image.", valueName: "list"))
    var label: [String] = []

    @Option(help: ArgumentHelp("Set the target build stage to build.", valueName: "string"))
    var target: String?

    @Option(help: ArgumentHelp("Write the image ID to the file.", valueName: "string"))
    var iidfile: String?

    @Option(help: ArgumentHelp("Set the networking mode for the RUN instructions during build (default, host, none).",
                               valueName: "string"))
    var network: String = "default"

    @Option(help: ArgumentHelp("Secret to expose to the build (format: \"id=mysecret,src=/local/secret\").",
                               valueName: "stringArray"))
    var secret: [String] = []

    @Option(help: ArgumentHelp("Set target platform for build.", valueName: "string"))
    var platform: String?

    @Option(help: ArgumentHelp("Set type of progress output (auto, plain, tty, quiet).", valueName: "string"))
    var progress: String = "auto"

    @ArgumentParser.Flag(name: .customLong("no-cache"), help: "Do not use cache when building the image.")
    var noCache = false

    @Option(help: ArgumentHelp("Always attempt to pull a newer version of the image; or which images to pull: always, missing (the default) or never.",
                               valueName: "policy"))
    var pull: String?

    @ArgumentParser.Flag(name: .shortAndLong, help: "Suppress the build output and print image ID on success.")
    var quiet = false

    @ArgumentParser.Flag(help: "Check the Dockerfile for errors and warnings without building.")
    var check = false

    @Argument(help: ArgumentHelp("Build context directory.", valueName: "PATH"))
    var context: String

    func run() async throws {
        if check { return try runCheck() }
        var contextDirectory = context
        let text: String
        if context == "-" {
            // A tar context (plain or compressed) or a lone Dockerfile on standard input.
            guard file != "-" else { throw ValidationError("invalid argument: can't use stdin for both build context and dockerfile") }
            let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            contextDirectory = NSTemporaryDirectory() + "berth-context-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: contextDirectory, withIntermediateDirectories: true)
            if let source = try? DecompressingSource(BytesSource(input)), Self.isTar(source) {
                _ = try SafeExtractor(root: contextDirectory, whiteouts: .keep)
                    .extract(TarReader(DecompressingSource(BytesSource(input))))
                text = try readDockerfile(contextDirectory + "/" + (file ?? "Dockerfile"))
            } else {
                text = String(decoding: input, as: UTF8.self)
            }
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: context, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("unable to prepare context: path \"\(context)\" not found")
            }
            text = try readDockerfile(file ?? context + "/Dockerfile")
        }
        defer { if context == "-" { try? FileManager.default.removeItem(atPath: contextDirectory) } }
        guard ["auto", "plain", "tty", "quiet"].contains(progress) else {
            throw ValidationError("invalid --progress \(progress): use auto, plain, tty or quiet")
        }
        var epoch: Int64?
        if let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty {
            guard let value = Int64(text) else { throw ValidationError("invalid SOURCE_DATE_EPOCH: \(text)") }
            epoch = value
        }
        var secrets: [String: String] = [:]
        for value in secret {
            var fields: [String: String] = [:]
            for field in value.split(separator: ",") {
                let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
                fields[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            guard let id = fields["id"], !id.isEmpty, let source = fields["src"] ?? fields["source"] else {
                throw ValidationError("invalid --secret \(value): expected id=NAME,src=FILE")
            }
            guard FileManager.default.isReadableFile(atPath: source) else {
                throw ValidationError("--secret \(id): cannot read \(source)")
            }
            secrets[id] = (source as NSString).standardizingPath.hasPrefix("/") ? source
                : FileManager.default.currentDirectoryPath + "/" + source
        }
        let options = BuildOptions(
            tags: tag, buildArgs: try pairs(buildArg, option: "--build-arg").mapValues { Optional($0) }, labels: try pairs(label, option: "--label"),
            target: target, noCache: noCache, pull: try usageErrors { try PullPolicy(buildFlag: pull) }, network: network, platform: platform, secrets: secrets,
            sourceDateEpoch: epoch)
        let name = file.map { $0 == "-" ? "Dockerfile" : ($0 as NSString).lastPathComponent } ?? "Dockerfile"
        let silent = quiet || progress == "quiet"
        let engine = try global.openEngine()
        // Base images the store lacks are pulled, and with --pull all of them, as Docker's build
        // does; BuildKit's plain progress shows no pull of its own: each is pulled quietly.
        let bases = try usageErrors {
            try engine.basesToPull(options, contextDirectory: contextDirectory, dockerfile: .text(text, name: name))
        }
        for base in bases {
            let reference = try Reference(parsing: base)
            let credentials = try RegistryOptions().savedCredentials(for: reference.domain)
            do {
                _ = try await engine.pull(PullOptions(reference: base, credentials: credentials), progress: { _ in })
            } catch {
                // BuildKit's words for a base it cannot pull.
                printError("ERROR: failed to solve: \(base): failed to resolve source metadata for \(reference.withDefaultTag): \(error)")
                throw ExitCode(1)
            }
        }
        // Ctrl-C or SIGTERM ends the build, and its running RUN step with it, leaving nothing for
        // the next command to clean up.
        BuildStepRecord.releaseOnInterrupt = true
        do {
            let result = try usageErrors {
                try engine.build(options, contextDirectory: contextDirectory, dockerfile: .text(text, name: name), style: .plain) { event in
                    if !silent, case .line(let line) = event { printError(line) }
                }
            }
            if let iidfile {
                try Data(result.imageID.description.utf8).write(to: URL(fileURLWithPath: iidfile))
            }
            if silent { print(result.imageID) }
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("ERROR: failed to solve: \(error)")
            throw ExitCode(1)
        }
    }

    /// Whether a stream starts with a tar header (the `ustar` magic).
    static func isTar(_ source: ByteSource) -> Bool {
        var header = [UInt8](repeating: 0, count: 512)
        var filled = 0
        while filled < header.count {
            let count = (try? header.withUnsafeMutableBytes {
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }) ?? 0
            if count <= 0 { break }
            filled += count
        }
        return filled == header.count && Array(header[257..<262]) == Array("ustar".utf8)
    }

    /// `K=V` values; a bare `K` takes its value from the environment, as Docker does.
    func pairs(_ values: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for value in values {
            let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let key = parts.first, !key.isEmpty else { throw ValidationError("invalid \(option) value: \(value)") }
            if parts.count > 1 {
                result[key] = parts[1]
            } else if let environment = ProcessInfo.processInfo.environment[key] {
                result[key] = environment
            }
        }
        return result
    }

    func readDockerfile(_ path: String) throws -> String {
        if path == "-" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("failed to read Dockerfile: open \(path): no such file or directory")
        }
        return String(decoding: data, as: UTF8.self)
    }

    func runCheck() throws {
        let path = file ?? (context == "-" ? "-" : context + "/Dockerfile")
        let text = try readDockerfile(path)
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
