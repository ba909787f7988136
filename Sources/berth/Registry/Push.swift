import ArgumentParser
import BerthEngine
import BerthOCI

/// `berth push`: uploads an image (or all tags of a repository) to its registry.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Upload an image to a registry.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions

    @Argument(help: ArgumentHelp("The image to push.", valueName: "NAME[:TAG]"))
    var name: String

    @Flag(name: [.customShort("a"), .customLong("all-tags")], help: "Push all tags of an image to the repository.")
    var allTags = false

    @Flag(name: .shortAndLong, help: "Suppress verbose output.")
    var quiet = false

    func run() async throws {
        let reference = try Reference(parsing: name)
        guard reference.digest == nil else { throw ValidationError("cannot push a digest reference") }
        if allTags, reference.tag != nil { throw ValidationError("tag can't be used with --all-tags/-a") }
        let engine = try global.openEngine()
        if !allTags, reference.tag == nil, !quiet { print("Using default tag: latest") }
        let display = TransferDisplay(quiet: quiet)
        let options = PushOptions(reference: name, allTags: allTags, credentials: try registry.savedCredentials(for: reference.domain),
                                  tlsVerify: registry.tlsVerify)
        do {
            _ = try await engine.push(options, progress: display.show)
        } catch let error as EngineError where error.kind == .notFound {
            // Docker's failure for a name with no local image: its message alone, exit status 1.
            printError(error.message)
            throw ExitCode(1)
        }
        // Docker's quiet push prints the reference as given, normalized, once.
        if quiet { print(reference.description) }
    }
}
