import ArgumentParser
import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore

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
        let store = try global.openStore()
        let client = try registry.client(for: reference.domain, scopes: [Scope.repository(reference.path, .pull)])
        do {
            let targets: [Reference]
            if allTags {
                targets = try await client.listTags(reference.path).sorted().map { reference.with(tag: $0) }
            } else {
                if reference.tag == nil, reference.digest == nil, !quiet { print("Using default tag: latest") }
                targets = [reference.withDefaultTag]
            }
            var downloadedNewer = false
            for target in targets {
                if !quiet { print("\(target.digest?.description ?? target.tag ?? Reference.defaultTag): Pulling from \(target.path)") }
                let display = TransferDisplay(verb: "Downloading", quiet: quiet)
                let result = try await client.pull(target, into: store, observer: display.observer)
                downloadedNewer = downloadedNewer || result.downloadedNewer
                if !quiet { print("Digest: \(result.repoDigest.digest?.description ?? "")") }
            }
            // One status line for what was asked for: the tag, or with -a the repository.
            if !quiet {
                let status = downloadedNewer ? "Downloaded newer image" : "Image is up to date"
                print("Status: \(status) for \(allTags ? reference.familiarName : targets[0].familiarString)")
            }
            print(allTags ? reference.name : reference.withDefaultTag.description)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }
}
