import ArgumentParser
import BerthEngine
import Foundation

/// `berth top CONTAINER [ps OPTIONS]`: the container's processes, as the host's `ps` shows them.
struct ContainerTop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("Options for ps (default -ef).", valueName: "ps options"))
    var psOptions: [String] = []

    func run() async throws {
        let engine = try global.openEngine()
        let titles: [String], processes: [[String]]
        do {
            (titles, processes) = try await engine.topContainer(container, psArguments: psOptions)
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
        var table = Table(header: titles, minimumWidth: 20)
        for row in processes { table.append(row) }
        print(table.rendered, terminator: "")
    }
}
