import ArgumentParser
import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore

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
        let store = try global.openStore()
        let targets: [Reference]
        if allTags {
            targets = try store.images().flatMap(\.tags).filter { $0.name == reference.name }
                .sorted { $0.description < $1.description }
            guard !targets.isEmpty else { throw Self.notLocal(reference) }
        } else {
            if reference.tag == nil, !quiet { print("Using default tag: latest") }
            targets = [reference.withDefaultTag]
        }
        let images = try targets.map { target -> ImageRecord in
            do {
                return try store.image(named: target.description)
            } catch StoreError.noSuchImage {
                throw Self.notLocal(target)
            }
        }
        let sources = try RegistryClient.mountSources(in: store, registry: reference.domain, excluding: reference.path)
        let scopes = [Scope.repository(reference.path, .pull, .push)]
            + Set(sources.values.joined()).sorted().map { Scope.repository($0, .pull) }
        let client = try registry.client(for: reference.domain, scopes: scopes)
        do {
            if !quiet { print("The push refers to repository [\(reference.name)]") }
            for (target, image) in zip(targets, images) {
                let display = TransferDisplay(verb: "Pushing", quiet: quiet)
                display.prepare(try store.manifest(of: image).layers.reversed().map(\.digest), status: "Preparing")
                let result = try await client.push(image, from: store, to: target, mountSources: sources, observer: display.observer)
                if !quiet { print("\(target.tag ?? Reference.defaultTag): digest: \(result.digest) size: \(result.size)") }
            }
            // Docker's quiet push prints the reference as given, normalized, once.
            if quiet { print(reference.description) }
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    /// Docker's failure for a reference with no local image: its message, exit status 1.
    private static func notLocal(_ reference: Reference) -> ExitCode {
        printError("An image does not exist locally with the tag: \(reference.familiarName)")
        return ExitCode(1)
    }
}
