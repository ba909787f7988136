import ArgumentParser
import BerthRuntime
import Foundation

/// `berth attach`: attach this terminal to a running container — its terminal (`-t`), or its
/// output from now on; stdin too when the container has `-i`.
struct ContainerAttach: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach", abstract: "Attach local standard input, output, and error streams to a running container.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN.")
    var noStdin = false

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() throws {
        let runtime = try global.openRuntime()
        let record: ContainerRecord
        do {
            record = try runtime.container(container)
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
        guard record.state.running else {
            printError("You cannot attach to a stopped container, start it first")
            throw ExitCode(1)
        }
        let forwardsInput = !noStdin && record.config.openStdin
        if record.config.tty, forwardsInput { try TerminalRelay.checkInputIsTerminal() }
        throw ExitCode(try Attach.toRunning(runtime, record, forwardsInput: forwardsInput))
    }
}
