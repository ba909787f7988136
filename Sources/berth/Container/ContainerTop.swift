import ArgumentParser
import BerthRuntime
import Foundation

/// `berth top CONTAINER [ps OPTIONS]`: the container's processes, as the host's `ps` shows them.
struct ContainerTop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("Options for ps (default -ef).", valueName: "ps options"))
    var psOptions: [String] = []

    func run() throws {
        let runtime = try global.openRuntime()
        let record = try runtime.container(container)
        guard record.state.running else {
            printError("Error response from daemon: container \(record.id) is not running")
            throw ExitCode(1)
        }
        let pids = Set(try runtime.ociRuntime(for: record).processes(record.id))
        let ps = Process()
        ps.executableURL = URL(fileURLWithPath: "/bin/ps")
        ps.arguments = psOptions.isEmpty ? ["-ef"] : psOptions
        let output = Pipe()
        ps.standardOutput = output
        try ps.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ps.waitUntilExit()
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.first, ps.terminationStatus == 0 else {
            printError("Error response from daemon: ps: \(text)")
            throw ExitCode(1)
        }
        let titles = header.split(separator: " ").map(String.init)
        guard let pidColumn = titles.firstIndex(of: "PID") else {
            printError("Error response from daemon: Couldn't find PID field in ps output")
            throw ExitCode(1)
        }
        // The last column (the command) may hold spaces: split into as many fields as titles.
        var table = Table(header: titles, minimumWidth: 20)
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ", maxSplits: titles.count - 1).map(String.init)
            guard fields.count == titles.count, let pid = Int32(fields[pidColumn]), pids.contains(pid) else { continue }
            table.append(fields)
        }
        print(table.rendered, terminator: "")
    }
}
