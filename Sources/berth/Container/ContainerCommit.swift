import ArgumentParser
import BerthEngine

/// `berth commit` (and `container commit`): a new image from a container's changes.
struct ContainerCommit: AsyncParsableCommand, GoBoolSwitches {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Create a new image from a container's changes.")

    static let goBoolSwitches = ["-p": "--pause", "--pause": "--pause"]

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\").", valueName: "string"))
    var author: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Apply Dockerfile instruction to the created image.", valueName: "list"))
    var change: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Commit message.", valueName: "string"))
    var message: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Pause container during commit.", valueName: "bool"))
    var pause = true

    @Argument(help: ArgumentHelp("The container to commit.", valueName: "container"))
    var container: String

    @Argument(help: ArgumentHelp("The new image's name.", valueName: "repository[:tag]"))
    var repository: String?

    func run() async throws {
        let engine = try global.openEngine()
        let options = CommitOptions(reference: repository, comment: message, author: author, pause: pause, changes: change)
        do {
            print(try await engine.commitContainer(container, options))
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
    }
}
