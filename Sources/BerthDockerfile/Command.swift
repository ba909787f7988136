import Foundation

/// A Dockerfile instruction with its arguments given meaning, one case per instruction.
///
/// Values are kept as written (variables unexpanded, quotes in ENV/LABEL/ARG values kept);
/// `expanded(with:escape:)` applies the builder's word expansion to the instructions that
/// get it.
public enum Command: Equatable, Sendable {
    case from(FromCommand)
    case run(RunCommand)
    case cmd(CommandLine)
    case entrypoint(CommandLine)
    case label(KeyValueCommand)
    case expose(ExposeCommand)
    case env(KeyValueCommand)
    case add(AddCommand)
    case copy(CopyCommand)
    case workdir(PathCommand)
    case user(PathCommand)
    case volume(VolumeCommand)
    case stopSignal(PathCommand)
    case healthcheck(HealthcheckCommand)
    case shell(ShellCommand)
    case arg(ArgCommand)
    case onbuild(OnbuildCommand)
    case maintainer(PathCommand)

    /// Instructions whose arguments the builder expands with ARG and ENV values. RUN, CMD,
    /// ENTRYPOINT, SHELL and HEALTHCHECK are left to the shell in the container, and ONBUILD
    /// triggers are expanded only when they run in a child build.
    public static let expandingInstructions: Set<String> = [
        "ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ]

    /// The parsed instruction this command came from.
    public var instruction: Instruction {
        switch self {
        case .from(let c): c.instruction
        case .run(let c): c.instruction
        case .cmd(let c), .entrypoint(let c): c.instruction
        case .label(let c), .env(let c): c.instruction
        case .expose(let c): c.instruction
        case .add(let c): c.instruction
        case .copy(let c): c.instruction
        case .workdir(let c), .user(let c), .stopSignal(let c), .maintainer(let c): c.instruction
        case .volume(let c): c.instruction
        case .healthcheck(let c): c.instruction
        case .shell(let c): c.instruction
        case .arg(let c): c.instruction
        case .onbuild(let c): c.instruction
        }
    }

    /// The 1-based line the instruction starts on.
    public var line: Int { instruction.startLine }

    /// Gives a parsed instruction its meaning, checking arguments and flags like BuildKit.
    ///
    /// - Throws: `DockerfileError` at the instruction's line.
    public init(_ instruction: Instruction, escape: Character = "\\", fileName: String = "Dockerfile") throws {
        do {
            self = try Self.make(instruction, escape: escape)
        } catch let error as InstructionError {
            throw DockerfileError(fileName: fileName, line: instruction.startLine, message: error.message)
        } catch let error as ShellExpansionError {
            throw DockerfileError(fileName: fileName, line: instruction.startLine, message: error.message)
        }
    }

    private static func make(_ i: Instruction, escape: Character) throws -> Command {
        let args = i.arguments
        func noFlags() throws { _ = try FlagSet(i.flags, accepting: [:]) }
        func exactlyOne() throws -> String {
            try noFlags()
            guard args.count == 1 else { throw InstructionError("\(i.keyword) requires exactly one argument") }
            return args[0]
        }
        func atLeastOne() throws {
            guard !args.isEmpty else { throw InstructionError("\(i.keyword) requires at least one argument") }
        }
        switch i.keyword {
        case "FROM":
            return .from(try FromCommand(i))
        case "RUN":
            return .run(try RunCommand(i))
        case "CMD":
            try noFlags()
            return .cmd(CommandLine(i))
        case "ENTRYPOINT":
            try noFlags()
            return .entrypoint(CommandLine(i))
        case "LABEL", "ENV":
            try noFlags()
            try atLeastOne()
            var pairs: [KeyValuePair] = []
            for index in stride(from: 0, to: args.count, by: 2) {
                guard index + 1 < args.count else { throw InstructionError("Bad input to \(i.keyword), too many arguments") }
                guard !args[index].isEmpty else { throw InstructionError("\(i.keyword) names can not be blank") }
                pairs.append(KeyValuePair(key: args[index], value: args[index + 1]))
            }
            let command = KeyValueCommand(instruction: i, pairs: pairs, isLegacyForm: i.usesLegacyKeyValueForm)
            return i.keyword == "ENV" ? .env(command) : .label(command)
        case "EXPOSE":
            try noFlags()
            try atLeastOne()
            // BuildKit keeps the ports sorted.
            return .expose(ExposeCommand(instruction: i, ports: args.sorted()))
        case "ADD":
            return .add(try AddCommand(i))
        case "COPY":
            return .copy(try CopyCommand(i))
        case "WORKDIR":
            return .workdir(PathCommand(instruction: i, value: try exactlyOne()))
        case "USER":
            return .user(PathCommand(instruction: i, value: try exactlyOne()))
        case "STOPSIGNAL":
            return .stopSignal(PathCommand(instruction: i, value: try exactlyOne()))
        case "MAINTAINER":
            return .maintainer(PathCommand(instruction: i, value: try exactlyOne()))
        case "VOLUME":
            try noFlags()
            try atLeastOne()
            for volume in args where volume.trimmingSpaces().isEmpty {
                throw InstructionError("VOLUME specified can not be an empty string")
            }
            return .volume(VolumeCommand(instruction: i, paths: args))
        case "HEALTHCHECK":
            return .healthcheck(try HealthcheckCommand(i))
        case "SHELL":
            try noFlags()
            try atLeastOne()
            guard i.isJSON else { throw InstructionError("SHELL requires the arguments to be in JSON form") }
            return .shell(ShellCommand(instruction: i, shell: args))
        case "ARG":
            try noFlags()
            try atLeastOne()
            let definitions = try args.map { word -> ArgDefinition in
                guard let eq = word.firstIndex(of: "=") else { return ArgDefinition(name: word, defaultValue: nil) }
                guard eq != word.startIndex else { throw InstructionError("ARG names can not be blank") }
                return ArgDefinition(name: String(word[..<eq]), defaultValue: String(word[word.index(after: eq)...]))
            }
            return .arg(ArgCommand(instruction: i, definitions: definitions))
        case "ONBUILD":
            try noFlags()
            guard let trigger = i.trigger else { throw InstructionError("ONBUILD requires at least one argument") }
            switch trigger.keyword {
            case "ONBUILD": throw InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            case "MAINTAINER", "FROM": throw InstructionError("\(trigger.keyword) isn't allowed as an ONBUILD trigger")
            default: break
            }
            var expression = args.first ?? ""
            for heredoc in trigger.heredocs { expression += "\n" + heredoc.content + heredoc.name }
            return .onbuild(OnbuildCommand(
                instruction: i, trigger: try Command(trigger, escape: escape), expression: expression))
        default:
            throw InstructionError("unknown instruction: \(i.writtenKeyword)")
        }
    }
}

/// `FROM [--platform=<platform>] <image> [AS <name>]`.
public struct FromCommand: Equatable, Sendable {
    public var instruction: Instruction
    /// The base image or earlier stage, as written (may contain `$VAR`).
    public var baseName: String
    /// The stage name after `AS`, lower-cased as BuildKit does.
    public var stageName: String?
    /// The stage name as written.
    public var writtenStageName: String?
    /// The `AS` keyword as written, for casing checks.
    public var asKeyword: String?
    /// `--platform`, unexpanded.
    public var platform: String?

    init(_ i: Instruction) throws {
        instruction = i
        let flags = try FlagSet(i.flags, accepting: ["platform": .string])
        platform = flags.strings["platform"]
        let args = i.arguments
        if args.count == 3 && args[1].lowercased() == "as" {
            let name = args[2].lowercased()
            guard Self.isValidStageName(name) else {
                throw InstructionError(
                    "invalid name for build stage: \"\(args[2])\", name can't start with a number or contain symbols")
            }
            stageName = name
            writtenStageName = args[2]
            asKeyword = args[1]
        } else if args.count != 1 {
            throw InstructionError("FROM requires either one or three arguments")
        }
        baseName = args[0]
    }

    /// `^[a-z][a-z0-9-_.]*$`.
    static func isValidStageName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "-_.".contains($0) }
    }
}

/// The command of RUN, CMD or ENTRYPOINT: exec form, or shell form run through the SHELL.
public struct CommandLine: Equatable, Sendable {
    public var instruction: Instruction
    /// The JSON strings in exec form, or the single command string in shell form.
    public var arguments: [String]
    /// True for shell form: the builder prepends the SHELL (`/bin/sh -c`).
    public var prependShell: Bool

    init(_ i: Instruction) {
        instruction = i
        arguments = i.arguments
        prependShell = !i.isJSON
    }
}

/// `RUN [--mount=...] [--network=...] [--security=...] <command>`.
public struct RunCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var commandLine: CommandLine
    public var mounts: [RunMount]
    /// `--network`: `default`, `none` or `host`.
    public var network: String?
    /// `--security`: `sandbox` or `insecure`.
    public var security: String?
    /// `--device` values.
    public var devices: [String]
    /// Heredoc bodies; a RUN whose command is just `<<EOF` runs the body as a script.
    public var heredocs: [Heredoc] { instruction.heredocs }

    /// How a shell-form RUN with heredocs runs, as BuildKit runs it.
    public enum HeredocScript: Equatable, Sendable {
        /// The command the SHELL runs: a lone heredoc's body, or the line with every body and
        /// terminator after it, so the shell feeds each heredoc to its own command.
        case shell(String)
        /// A lone heredoc whose body starts with `#!`: written to an executable file named after
        /// the delimiter, which the SHELL runs, so the body's interpreter runs it.
        case executable(name: String, content: String)
    }

    /// The heredoc that is the whole command (`RUN <<EOF`), if any.
    public var scriptHeredoc: Heredoc? {
        guard heredocs.count == 1, let first = heredocs.first, commandLine.prependShell, let line = commandLine.arguments.first,
              let marker = DockerfileParser.heredocMarker(line.trimmingSpaces()), marker.name == first.name else { return nil }
        return first
    }

    /// How the heredocs run, or nil when there are none (or the command is in exec form).
    public var heredocScript: HeredocScript? {
        if let script = scriptHeredoc {
            return script.content.hasPrefix("#!") ? .executable(name: script.name, content: script.content) : .shell(script.content)
        }
        guard commandLine.prependShell, let line = commandLine.arguments.first, !heredocs.isEmpty else { return nil }
        return .shell(heredocs.reduce(line) { $0 + "\n" + $1.content + $1.name })
    }

    init(_ i: Instruction) throws {
        instruction = i
        let flags = try FlagSet(
            i.flags, accepting: ["mount": .list, "network": .string, "security": .string, "device": .list])
        commandLine = CommandLine(i)
        mounts = try (flags.lists["mount"] ?? []).map(RunMount.init(parsing:))
        network = flags.strings["network"]
        if let network, !["default", "none", "host"].contains(network) {
            throw InstructionError("unsupported network mode \"\(network)\"")
        }
        security = flags.strings["security"]
        if let security, !["sandbox", "insecure"].contains(security) {
            throw InstructionError("unsupported security mode \"\(security)\"")
        }
        devices = flags.lists["device"] ?? []
    }
}

/// One `RUN --mount=type=...,key=value` specification.
public struct RunMount: Equatable, Sendable {
    public enum MountType: String, Equatable, Sendable { case bind, cache, tmpfs, secret, ssh }

    public var type: MountType
    /// `target`/`dst`/`destination`.
    public var target: String?
    /// `source`/`src`.
    public var source: String?
    /// `from`: a stage or image to mount from.
    public var from: String?
    /// `ro`/`readonly` (or the negation of `rw`/`readwrite`); nil when not written.
    public var readOnly: Bool?
    /// Every option as written after normalising key aliases, in order.
    public var options: [KeyValuePair]

    public init(parsing text: String) throws {
        var type = MountType.bind
        var options: [KeyValuePair] = []
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            let key: String
            let value: String
            if let eq = field.firstIndex(of: "=") {
                key = field[..<eq].lowercased().trimmingSpaces()
                value = String(field[field.index(after: eq)...])
            } else {
                key = field.lowercased().trimmingSpaces()
                guard ["ro", "readonly", "rw", "readwrite", "required"].contains(key) else {
                    throw InstructionError("invalid field '\(field)' must be a key=value pair")
                }
                value = "true"
            }
            let canonical: String
            switch key {
            case "type":
                guard let parsed = MountType(rawValue: value.lowercased()) else {
                    throw InstructionError("unsupported mount type \"\(value)\"")
                }
                type = parsed
                canonical = key
            case "src", "source": canonical = "source"
            case "dst", "destination", "target": canonical = "target"
            case "ro", "readonly": canonical = "readonly"
            case "rw", "readwrite": canonical = "readwrite"
            case "from", "id", "sharing", "mode", "uid", "gid", "required", "size", "env":
                canonical = key
            default:
                throw InstructionError("unexpected key '\(key)' in '\(field)'")
            }
            if canonical != "type" { options.append(KeyValuePair(key: canonical, value: value)) }
        }
        self.type = type
        self.options = options
        func option(_ key: String) -> String? { options.last(where: { $0.key == key })?.value }
        target = option("target")
        source = option("source")
        from = option("from")
        if let ro = option("readonly") { readOnly = ro.lowercased() != "false" }
        if let rw = option("readwrite") { readOnly = rw.lowercased() == "false" }
        if let sharing = option("sharing"), !["shared", "private", "locked"].contains(sharing) {
            throw InstructionError("unsupported sharing value \"\(sharing)\"")
        }
        if target == nil && type != .secret && type != .ssh {
            throw InstructionError("mount destination not set")
        }
    }
}

/// A `key=value` pair of ENV or LABEL, or a mount option.
public struct KeyValuePair: Equatable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// ENV or LABEL.
public struct KeyValueCommand: Equatable, Sendable {
    public var instruction: Instruction
    /// The pairs in order; values still quoted until expanded.
    public var pairs: [KeyValuePair]
    /// Written as the legacy `ENV key value` (one pair, value = rest of the line).
    public var isLegacyForm: Bool
}

/// EXPOSE.
public struct ExposeCommand: Equatable, Sendable {
    public var instruction: Instruction
    /// Port specifications such as `80`, `53/udp`, `8000-8010/tcp`.
    public var ports: [String]
}

/// WORKDIR, USER, STOPSIGNAL or MAINTAINER: one string argument.
public struct PathCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var value: String
}

/// VOLUME, JSON array or words.
public struct VolumeCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var paths: [String]
}

/// Sources and destination shared by ADD and COPY.
public struct SourcesAndDestination: Equatable, Sendable {
    /// Source paths or URLs; a heredoc source appears as its marker word (`<<EOF`).
    public var sources: [String]
    public var destination: String
    /// Heredoc bodies used as inline source files.
    public var heredocs: [Heredoc]

    /// The sources that are paths or URLs, without heredoc markers.
    public var paths: [String] { sources.filter { DockerfileParser.heredocMarker($0) == nil } }

    /// The inline files, one per heredoc marker among the sources, named by their delimiter.
    public var inlineFiles: [Heredoc] {
        sources.compactMap { source in
            guard let marker = DockerfileParser.heredocMarker(source) else { return nil }
            return heredocs.first { $0.name == marker.name }
        }
    }

    init(_ i: Instruction) throws {
        guard i.arguments.count >= 2 else {
            throw InstructionError(
                "\(i.keyword) requires at least two arguments, but only one was provided. Destination could not be determined")
        }
        sources = Array(i.arguments.dropLast())
        destination = i.arguments[i.arguments.count - 1]
        heredocs = i.heredocs
        if !i.isJSON && DockerfileParser.heredocMarker(destination) != nil {
            throw InstructionError("\(i.keyword) cannot accept a heredoc as a destination")
        }
    }
}

/// `ADD [--chown] [--chmod] [--checksum] [--keep-git-dir] [--link] [--exclude] <src>... <dest>`.
public struct AddCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var files: SourcesAndDestination
    public var chown: String?
    public var chmod: String?
    public var checksum: String?
    public var keepGitDir: Bool?
    public var link: Bool
    public var unpack: Bool?
    public var exclude: [String]

    init(_ i: Instruction) throws {
        instruction = i
        let flags = try FlagSet(i.flags, accepting: [
            "chown": .string, "chmod": .string, "checksum": .string, "keep-git-dir": .bool, "link": .bool,
            "exclude": .list, "unpack": .bool,
        ])
        files = try SourcesAndDestination(i)
        chown = flags.strings["chown"]
        chmod = flags.strings["chmod"]
        checksum = flags.strings["checksum"]
        keepGitDir = flags.bools["keep-git-dir"]
        link = flags.bools["link"] ?? false
        unpack = flags.bools["unpack"]
        exclude = flags.lists["exclude"] ?? []
    }
}

/// `COPY [--from] [--chown] [--chmod] [--link] [--parents] [--exclude] <src>... <dest>`.
public struct CopyCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var files: SourcesAndDestination
    /// A stage name, stage index or image reference.
    public var from: String?
    public var chown: String?
    public var chmod: String?
    public var link: Bool
    public var parents: Bool
    public var exclude: [String]

    init(_ i: Instruction) throws {
        instruction = i
        let flags = try FlagSet(i.flags, accepting: [
            "from": .string, "chown": .string, "chmod": .string, "link": .bool, "parents": .bool, "exclude": .list,
        ])
        files = try SourcesAndDestination(i)
        from = flags.strings["from"]
        chown = flags.strings["chown"]
        chmod = flags.strings["chmod"]
        link = flags.bools["link"] ?? false
        parents = flags.bools["parents"] ?? false
        exclude = flags.lists["exclude"] ?? []
    }
}

/// HEALTHCHECK NONE, or HEALTHCHECK [options] CMD command.
public struct HealthcheckCommand: Equatable, Sendable {
    public var instruction: Instruction
    /// The image config's `Healthcheck.Test`: `["NONE"]`, `["CMD", args...]` or
    /// `["CMD-SHELL", command]`.
    public var test: [String]
    public var interval: Duration?
    public var timeout: Duration?
    public var startPeriod: Duration?
    public var startInterval: Duration?
    public var retries: Int?

    /// Whether this disables a health check inherited from the base image.
    public var isNone: Bool { test == ["NONE"] }

    init(_ i: Instruction) throws {
        instruction = i
        guard let type = i.arguments.first?.uppercased() else {
            throw InstructionError("HEALTHCHECK requires at least one argument")
        }
        let rest = Array(i.arguments.dropFirst())
        if type == "NONE" {
            guard rest.isEmpty else { throw InstructionError("HEALTHCHECK NONE takes no arguments") }
            _ = try FlagSet(i.flags, accepting: [:])
            test = ["NONE"]
            return
        }
        let flags = try FlagSet(i.flags, accepting: [
            "interval": .string, "timeout": .string, "start-period": .string, "start-interval": .string,
            "retries": .string,
        ])
        guard type == "CMD" else { throw InstructionError("Unknown type \"\(type)\" in HEALTHCHECK (try CMD)") }
        guard !rest.isEmpty else { throw InstructionError("Missing command after HEALTHCHECK CMD") }
        test = (i.isJSON ? ["CMD"] : ["CMD-SHELL"]) + rest
        func interval(_ name: String) throws -> Duration? {
            guard let text = flags.strings[name], !text.isEmpty else { return nil }
            let value = try GoDuration.parse(text)
            if value == .zero { return nil }
            if value < .milliseconds(1) { throw InstructionError("Interval \"\(name)\" cannot be less than 1ms") }
            return value
        }
        self.interval = try interval("interval")
        timeout = try interval("timeout")
        startPeriod = try interval("start-period")
        startInterval = try interval("start-interval")
        if let text = flags.strings["retries"], !text.isEmpty {
            guard let value = Int32(text) else {
                throw InstructionError("strconv.ParseInt: parsing \"\(text)\": invalid syntax")
            }
            guard value >= 0 else { throw InstructionError("--retries cannot be negative (\(value))") }
            retries = Int(value)
        }
    }
}

/// SHELL ["executable", "parameters"].
public struct ShellCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var shell: [String]
}

/// One `name[=default]` of an ARG instruction.
public struct ArgDefinition: Equatable, Sendable {
    public var name: String
    /// The default as written (quotes kept until expanded); nil when none was given.
    public var defaultValue: String?

    public init(name: String, defaultValue: String?) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

/// ARG name[=default] ...
public struct ArgCommand: Equatable, Sendable {
    public var instruction: Instruction
    public var definitions: [ArgDefinition]
}

/// ONBUILD <instruction>.
public struct OnbuildCommand: Equatable, Sendable {
    public var instruction: Instruction
    private var triggerStorage: [Command]
    /// The trigger text stored in the image config's `OnBuild` (heredoc bodies appended).
    public var expression: String

    /// The wrapped instruction.
    public var trigger: Command { triggerStorage[0] }

    init(instruction: Instruction, trigger: Command, expression: String) {
        self.instruction = instruction
        self.triggerStorage = [trigger]
        self.expression = expression
    }
}
