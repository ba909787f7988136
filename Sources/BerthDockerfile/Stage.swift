/// One build stage: a FROM and the commands up to the next FROM.
public struct Stage: Equatable, Sendable {
    /// The name after `AS`, lower-cased; nil for an unnamed stage.
    public var name: String?
    /// The image or earlier stage it starts from, unexpanded.
    public var baseName: String
    /// `FROM --platform=`, unexpanded.
    public var platform: String?
    /// 0-based position among the stages; `COPY --from=<index>` refers to it.
    public var index: Int
    /// The FROM command itself.
    public var from: FromCommand
    /// The commands after FROM, in order.
    public var commands: [Command]

    public init(name: String?, baseName: String, platform: String?, index: Int, from: FromCommand, commands: [Command]) {
        self.name = name
        self.baseName = baseName
        self.platform = platform
        self.index = index
        self.from = from
        self.commands = commands
    }
}

/// A Dockerfile's typed commands grouped into stages, with the global ARGs before the
/// first FROM.
public struct BuildStages: Equatable, Sendable {
    /// ARG instructions before the first FROM: their values are visible to FROM lines and,
    /// when redeclared without a value, inside stages.
    public var metaArgs: [ArgCommand]
    public var stages: [Stage]

    /// The stage a name or index (`COPY --from=build`, `--from=0`) refers to among the
    /// stages before `position`; nil means the reference is an image.
    public func stage(named reference: String, before position: Int? = nil) -> Stage? {
        let candidates = stages.prefix(position ?? stages.count)
        if let index = Int(reference), String(index) == reference {
            return candidates.first(where: { $0.index == index })
        }
        let lowered = reference.lowercased()
        return candidates.last(where: { $0.name == lowered })
    }
}

extension Dockerfile {
    /// Every instruction as a typed command, in file order.
    public func commands() throws -> [Command] {
        try instructions.map { try Command($0, escape: directives.escape, fileName: fileName) }
    }

    /// Groups the commands into stages.
    ///
    /// - Throws: `DockerfileError` when an instruction other than ARG comes before the first
    ///   FROM, when two stages share a name, or when a command is invalid.
    public func stages() throws -> BuildStages {
        var metaArgs: [ArgCommand] = []
        var stages: [Stage] = []
        for command in try commands() {
            if case .from(let from) = command {
                if let name = from.stageName, stages.contains(where: { $0.name == name }) {
                    throw DockerfileError(
                        fileName: fileName, line: command.line,
                        message: "Duplicate stage name '\(name)', stage names should be unique")
                }
                stages.append(Stage(
                    name: from.stageName, baseName: from.baseName, platform: from.platform, index: stages.count,
                    from: from, commands: []))
                continue
            }
            if stages.isEmpty {
                guard case .arg(let arg) = command else {
                    throw DockerfileError(
                        fileName: fileName, line: command.line, message: "no build stage in current context")
                }
                metaArgs.append(arg)
                continue
            }
            stages[stages.count - 1].commands.append(command)
        }
        return BuildStages(metaArgs: metaArgs, stages: stages)
    }
}
