import ArgumentParser
import Foundation

/// A command line Berth cannot run, reported as the docker CLI reports it: an unknown command
/// exits 1; a flag error (unknown flag, missing or bad value) prints the command's usage and exits
/// 125; a wrong number of arguments exits 1; other invalid options exit 125 for `run`, `create` and
/// `exec` (Docker's "the container could not be made") and 1, with the message alone, elsewhere.
struct CommandLineFailure {
    var message: String
    var status: Int32

    func exit() -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(status)
    }

    /// The commands whose every failure before the container exists exits 125.
    private static let containerCommands: Set<String> = ["run", "create", "exec"]

    /// The words that name a command with subcommands, followed by a word that names none of
    /// them (`berth foo`, `berth image foo`): Docker's "unknown command". ArgumentParser's own
    /// `help` is known at the top.
    static func unknownCommand(in arguments: [String]) -> CommandLineFailure? {
        var command: ParsableCommand.Type = Berth.self
        var path: [String] = []
        for word in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !word.hasPrefix("-") else { return nil }
            guard let next = subcommand(of: command, named: word) else {
                if command == Berth.self, word == "help" { return nil }
                let typed = (["berth"] + path + [word]).joined(separator: " ")
                var message = "berth: unknown command: \(typed)\n\n"
                if command != Berth.self { message += "Usage:  \(usage(of: command, path: path))\n\n" }
                message += "Run '\((["berth"] + path).joined(separator: " ")) --help' for more information"
                return CommandLineFailure(message: message, status: 1)
            }
            command = next
            path.append(word)
        }
        return nil
    }

    /// Maps an error of parsing or validating the arguments to Docker's report of it.
    static func parse(_ error: any Error, arguments: [String]) -> CommandLineFailure {
        if Berth.exitCode(for: error) == .success { Berth.exit(withError: error) }
        let (command, path) = commandPath(in: arguments)
        let typed = (["berth"] + path).joined(separator: " ")
        let usage = "Usage:  " + usage(of: command, path: path)
        let message = Berth.message(for: error)
        if let flagError = flagError(message) {
            return CommandLineFailure(message: "\(flagError)\n\n\(usage)\n\nRun '\(typed) --help' for more information", status: 125)
        }
        if let count = argumentCountError(message, usage: usage) {
            // Docker's "at least N" form says "See", its other forms "Run".
            let verb = count.contains("at least") && !count.contains("at most") ? "See" : "Run"
            return CommandLineFailure(
                message: "berth: '\(typed)' \(count)\n\n\(usage)\n\n\(verb) '\(typed) --help' for more information", status: 1)
        }
        // `run`, `create` and `exec` refuse their options as a status error (with the help
        // pointer); other commands report the error alone, as their RunE errors.
        guard containerCommands.contains(path.last ?? "") else { return CommandLineFailure(message: message, status: 1) }
        return CommandLineFailure(message: "berth: \(message)\n\nRun '\(typed) --help' for more information", status: 125)
    }

    /// Docker's (pflag's) wording of ArgumentParser's flag errors, or nil for other errors.
    private static func flagError(_ message: String) -> String? {
        func quoted(after prefix: String) -> String? {
            guard message.hasPrefix(prefix) else { return nil }
            return message.dropFirst(prefix.count).split(separator: "'", maxSplits: 1).first.map(String.init)
        }
        func flagName(_ synopsis: String) -> String {
            String(synopsis.split(separator: " ").first ?? Substring(synopsis))
        }
        if message.hasPrefix("unknown flag: ") || message.hasPrefix("unknown shorthand flag: ") { return message }
        if let name = quoted(after: "Unknown option '") {
            return name.hasPrefix("--") ? "unknown flag: \(name)" : "unknown shorthand flag: '\(name.dropFirst())' in \(name)"
        }
        if let synopsis = quoted(after: "Missing value for '") {
            let name = flagName(synopsis)
            return name.hasPrefix("--") ? "flag needs an argument: \(name)" : "flag needs an argument: '\(name.dropFirst())' in \(name)"
        }
        if message.hasPrefix("The value '"), let range = message.range(of: "' is invalid for '") {
            let value = message[message.index(message.startIndex, offsetBy: "The value '".count)..<range.lowerBound]
            let rest = message[range.upperBound...]
            let synopsis = rest.split(separator: "'", maxSplits: 1).first.map(String.init) ?? ""
            // A positional argument's bad value is not a flag error.
            guard synopsis.hasPrefix("-") else { return nil }
            let reason = rest.range(of: "': ").map { ": " + rest[$0.upperBound...] } ?? ""
            return "invalid argument \"\(value)\" for \"\(flagName(synopsis))\" flag\(reason)"
        }
        if message.hasPrefix("The option '"), message.contains("does not take any value") { return message }
        return nil
    }

    /// Docker's wording of a wrong number of arguments ("requires at least 1 argument"), from
    /// ArgumentParser's message and the arguments the usage line lists; nil for other errors.
    private static func argumentCountError(_ message: String, usage: String) -> String? {
        if message.hasPrefix("requires ") || message == "accepts no arguments" { return message }
        guard message.hasPrefix("Missing expected argument") || message.hasPrefix("Unexpected argument")
            || message.contains("unexpected arguments: ") else { return nil }
        let (minimum, maximum) = arity(usage)
        func arguments(_ count: Int) -> String { count == 1 ? "argument" : "arguments" }
        switch (minimum, maximum) {
        case (0, 0?): return "accepts no arguments"
        case (let low, let high?) where low == high: return "requires \(low) \(arguments(low))"
        case (let low, let high?) where low == 0: return "requires at most \(high) \(arguments(high))"
        case (let low, let high?): return "requires at least \(low) and at most \(high) \(arguments(high))"
        case (let low, nil): return "requires at least \(low) \(arguments(low))"
        }
    }

    /// How many positional arguments a usage line takes (nil: no upper limit): its `<name>`
    /// words outside brackets are required, `[<name>]` ones optional, `…` after one repeats it.
    static func arity(_ usage: String) -> (minimum: Int, maximum: Int?) {
        var minimum = 0
        var maximum: Int? = 0
        var depth = 0
        var groupIsPositional = false
        var previous = ""
        for token in usage.split(separator: " ").map(String.init) {
            let opening = token.prefix { $0 == "[" }.count
            if depth == 0, opening > 0 {
                groupIsPositional = token.dropFirst(opening).hasPrefix("<")
                if groupIsPositional { maximum = maximum.map { $0 + 1 } }
            }
            depth += opening
            if depth == 0 {
                if token.hasPrefix("<"), !previous.hasPrefix("-"), token != "<subcommand>" {
                    minimum += 1
                    maximum = maximum.map { $0 + 1 }
                }
                if token == "..." || token.hasSuffix("...") { maximum = nil }
            } else if groupIsPositional, token.hasSuffix("...") || token.hasSuffix("...]") || token.contains("...>") {
                maximum = nil
            }
            depth -= token.reversed().prefix { $0 == "]" }.count
            depth = max(depth, 0)
            previous = token
        }
        return (minimum, maximum)
    }

    /// The command the leading words of `arguments` name, and those words.
    private static func commandPath(in arguments: [String]) -> (ParsableCommand.Type, [String]) {
        var command: ParsableCommand.Type = Berth.self
        var path: [String] = []
        for word in arguments {
            guard !word.hasPrefix("-"), let next = subcommand(of: command, named: word) else { break }
            command = next
            path.append(word)
        }
        return (command, path)
    }

    private static func subcommand(of command: ParsableCommand.Type, named word: String) -> ParsableCommand.Type? {
        command.configuration.subcommands.first {
            $0.configuration.commandName == word || $0.configuration.aliases.contains(word)
        }
    }

    /// The command's usage line under the words the user typed (a command reachable by two paths,
    /// `ps` and `container ls`, is shown under the one used).
    private static func usage(of command: ParsableCommand.Type, path: [String]) -> String {
        let generated = command == Berth.self ? "berth <subcommand>" : Berth.usageString(for: command)
        let words = generated.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let commandWords = words.prefix { word in
            !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } && !word.hasPrefix("-")
        }
        return (["berth"] + path + words.dropFirst(commandWords.count)).joined(separator: " ")
    }
}
