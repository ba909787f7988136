import ArgumentParser
import BerthEngine
import Foundation

@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A Docker-compatible container toolkit: build, store, run and distribute OCI images.",
        discussion: "Global option: --root DIR (env BERTH_ROOT, default /var/lib/berth) holds all state; it may be given before or after the command.",
        version: Engine.version,
        groupedSubcommands: [
            CommandGroup(name: "Common", subcommands: [
                Build.self, Images.self, ImageImport.self, ImageLoad.self, ImageSave.self, ImageTag.self,
                RemoveImages.self, ImageHistory.self, Inspect.self,
                ContainerRun.self, ContainerCreate.self, ContainerStart.self, ContainerPs.self, ContainerLogs.self,
                ContainerStop.self, ContainerKill.self, ContainerRestart.self, ContainerRemove.self, ContainerWait.self,
                ContainerRename.self, ContainerPort.self, ContainerExec.self, ContainerAttach.self, ContainerTop.self, ContainerStats.self,
                ContainerCopy.self, ContainerUpdate.self, ContainerPause.self, ContainerUnpause.self, ContainerDiff.self,
                ContainerExport.self, ContainerCommit.self,
                Login.self, Logout.self, Push.self, Pull.self, Version.self, Info.self, Events.self,
            ]),
            CommandGroup(name: "Management", subcommands: [
                BuilderCommand.self, ContainerCommand.self, ImageCommand.self, KubeCommand.self, NetworkCommand.self, RegistryCommand.self,
                SystemCommand.self, VolumeCommand.self,
            ]),
            CommandGroup(name: "Daemon", subcommands: [Serve.self]),
        ]
    )

    /// Accepts `--root DIR` before the command name, as Docker accepts its global flags, by moving
    /// it after the command words where every command's option group parses it.
    static func main() async {
        var arguments = Array(Swift.CommandLine.arguments.dropFirst())
        var root: [String] = []
        while let first = arguments.first, first.hasPrefix("--root") {
            if first == "--root", arguments.count >= 2 {
                root = ["--root", arguments[1]]
                arguments.removeFirst(2)
            } else if first.hasPrefix("--root=") {
                root = [first]
                arguments.removeFirst()
            } else {
                break
            }
        }
        if !root.isEmpty, !arguments.isEmpty, !arguments[0].hasPrefix("-") {
            // Insert after the command words (`image ls`), before options and positionals.
            var insertAt = 1
            let groups: Set<String> = ["builder", "container", "image", "kube", "network", "system", "volume"]
            if groups.contains(arguments[0]), arguments.count > 1, !arguments[1].hasPrefix("-") { insertAt = 2 }
            arguments.insert(contentsOf: root, at: insertAt)
        }
        if let unknown = CommandLineFailure.unknownCommand(in: arguments) { unknown.exit() }
        var command: ParsableCommand
        do {
            command = try parseCommand(arguments)
        } catch {
            CommandLineFailure.parse(error, arguments: arguments).exit()
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            CommandLineFailure.parse(error, arguments: arguments).exit()
        } catch {
            // A missing or conflicting object is the engine's answer, which the docker CLI prints
            // as the daemon's response.
            if [.notFound, .conflict].contains(EngineError.kind(of: error)) {
                printDaemonError(error)
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }

    /// Parses `arguments` with only the command their command words name, which spares
    /// ArgumentParser building and reflecting the whole tree of ~60 commands: a few milliseconds,
    /// a large share of a quick command like a cached build. Help requests and errors go through
    /// the whole tree, so their usage lines read `berth <command> …` as before.
    private static func parseCommand(_ arguments: [String]) throws -> ParsableCommand {
        guard let (command, options) = namedCommand(in: arguments) else { return try parseAsRoot(arguments) }
        let switches = (command as? GoBoolSwitches.Type)?.goBoolSwitches ?? [:]
        // Go's flag package takes a bool flag's value only when attached (`-p=false`): a bare one is true.
        let normalized = options.map { switches[$0].map { "\($0)=true" } ?? $0 }
        if let parsed = try? command.parseAsRoot(normalized), type(of: parsed) == command {
            return parsed
        }
        return try parseAsRoot(arguments)
    }

    /// The command without subcommands that the leading words of `arguments` name (by name or
    /// alias), and the arguments after those words.
    private static func namedCommand(in arguments: [String]) -> (ParsableCommand.Type, ArraySlice<String>)? {
        var command: ParsableCommand.Type = Berth.self
        var rest = arguments[...]
        while case let subcommands = command.configuration.subcommands, !subcommands.isEmpty {
            guard let word = rest.first, let next = subcommands.first(where: {
                $0.configuration.commandName == word || $0.configuration.aliases.contains(word)
            }) else { return nil }
            command = next
            rest = rest.dropFirst()
        }
        return (command, rest)
    }
}

/// A command whose true-by-default switches are options with a value (`--pause=false`), which
/// Docker's users also give bare (`commit -p`): the spellings, and the long name each stands for.
protocol GoBoolSwitches {
    static var goBoolSwitches: [String: String] { get }
}

/// `berth image …`: manage images.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Manage images.",
        subcommands: [
            ImageList.self, ImageInspect.self, ImageImport.self, ImageLoad.self, ImageSave.self, ImageTag.self,
            ImageRemove.self, ImagePrune.self, ImageHistory.self, Build.self, Pull.self, Push.self,
        ]
    )
}
