import ArgumentParser
import BerthOCI
import BerthStore

/// `berth tag` / `berth image tag`.
struct ImageTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Existing image.", valueName: "SOURCE_IMAGE[:TAG]"))
    var source: String

    @Argument(help: ArgumentHelp("New name.", valueName: "TARGET_IMAGE[:TAG]"))
    var target: String

    func run() throws {
        let reference = try Reference(parsing: target)
        guard reference.digest == nil else {
            throw ValidationError("refusing to create a tag with a digest reference")
        }
        let store = try global.openStore()
        try store.tag(store.image(named: source), as: reference)
    }
}
