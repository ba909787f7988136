import ArgumentParser
import BerthEngine
import BerthOCI

/// `berth pull`: downloads an image (or every tag of a repository) from its registry.
struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Download an image from a registry.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions

    @Argument(help: ArgumentHelp("The image to pull.", valueName: "NAME[:TAG|@DIGEST]"))
    var name: String

    @Flag(name: [.customShort("a"), .customLong("all-tags")], help: "Download all tagged images in the repository.")
    var allTags = false

    @Flag(name: .shortAndLong, help: "Suppress verbose output.")
    var quiet = false

    func run() async throws {
        let reference = try Reference(parsing: name)
        if allTags, reference.tag != nil || reference.digest != nil {
            throw ValidationError("tag can't be used with --all-tags/-a")
        }
        let engine = try global.openEngine()
        if !allTags, reference.tag == nil, reference.digest == nil, !quiet { print("Using default tag: latest") }
        let display = TransferDisplay(quiet: quiet)
        let options = PullOptions(reference: name, allTags: allTags, credentials: try registry.savedCredentials(for: reference.domain),
                                  tlsVerify: registry.tlsVerify)
        let report = try await engine.pull(options, progress: display.show)
        print(report.pulled)
    }
}
