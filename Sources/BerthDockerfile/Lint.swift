/// A finding of a build check, named like BuildKit's rules (`JSONArgsRecommended`, ...).
public struct LintWarning: Equatable, Sendable, CustomStringConvertible {
    public var fileName: String
    public var line: Int
    /// The BuildKit check name.
    public var rule: String
    public var message: String

    public init(fileName: String, line: Int, rule: String, message: String) {
        self.fileName = fileName
        self.line = line
        self.rule = rule
        self.message = message
    }

    /// `Dockerfile:3: MaintainerDeprecated: Maintainer instruction is deprecated ...`.
    public var description: String { "\(fileName):\(line): \(rule): \(message)" }
}

/// What `berth build --check` reports for a Dockerfile.
public struct LintReport: Sendable {
    public var dockerfile: Dockerfile
    public var stages: BuildStages
    /// Findings not skipped by `# check=skip=...`, in line order.
    public var warnings: [LintWarning]
    /// `# check=error=true` was set and there are findings: the build must fail.
    public var failsBuild: Bool {
        (dockerfile.directives.check?.error ?? false) && !warnings.isEmpty
    }
}

/// Parses a Dockerfile, builds its typed commands and stage graph, and runs the build checks.
///
/// - Throws: `DockerfileError` for anything that would stop a build: syntax errors, invalid
///   commands, duplicate stage names, a stage copying from itself or a dependency cycle
///   between stages, `--from` naming the current or a later stage by index.
public func lint(_ text: String, fileName: String = "Dockerfile") throws -> LintReport {
    try Dockerfile.parse(text, fileName: fileName).lint()
}

extension Dockerfile {
    /// Runs the build checks on a parsed Dockerfile; see `lint(_:fileName:)`.
    public func lint() throws -> LintReport {
        let stages = try stages()
        var checker = Checker(dockerfile: self, stages: stages)
        try checker.checkStageGraph()
        checker.run()
        let check = directives.check ?? CheckDirective()
        let warnings = checker.warnings
            .filter { !check.skips($0.rule) }
            .sorted { $0.line < $1.line }
        return LintReport(dockerfile: self, stages: stages, warnings: warnings)
    }
}

private struct Checker {
    let dockerfile: Dockerfile
    let stages: BuildStages
    var warnings: [LintWarning] = []

    init(dockerfile: Dockerfile, stages: BuildStages) {
        self.dockerfile = dockerfile
        self.stages = stages
    }

    mutating func warn(_ rule: String, _ message: String, line: Int) {
        warnings.append(LintWarning(fileName: dockerfile.fileName, line: line, rule: rule, message: message))
    }

    func error(_ message: String, line: Int) -> DockerfileError {
        DockerfileError(fileName: dockerfile.fileName, line: line, message: message)
    }

    /// Stages another stage reads from: `COPY --from` and `RUN --mount from=` name any stage;
    /// a FROM names only an earlier one.
    func dependencies(of stage: Stage) throws -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        if let base = stages.stage(named: stage.baseName, before: stage.index) { result.append((base.index, stage.from.instruction.startLine)) }
        for command in stage.commands {
            var references: [String] = []
            switch command {
            case .copy(let copy): references = copy.from.map { [$0] } ?? []
            case .run(let run): references = run.mounts.compactMap(\.from)
            default: break
            }
            for reference in references where !reference.contains("$") {
                if let index = Int(reference), String(index) == reference {
                    guard index < stage.index else {
                        throw error(
                            "invalid from flag value \(reference): refers to current or future build stage",
                            line: command.line)
                    }
                    result.append((index, command.line))
                } else if let target = stages.stages.last(where: { $0.name == reference.lowercased() }) {
                    guard target.index != stage.index else {
                        throw error("circular dependency detected on stage: \(stage.name ?? String(stage.index))", line: command.line)
                    }
                    result.append((target.index, command.line))
                }
            }
        }
        return result
    }

    func checkStageGraph() throws {
        var edges: [[(Int, Int)]] = []
        for stage in stages.stages { edges.append(try dependencies(of: stage)) }
        // 0 unvisited, 1 on the current path, 2 done.
        var state = Array(repeating: 0, count: stages.stages.count)
        func visit(_ index: Int) throws {
            state[index] = 1
            for (next, line) in edges[index] {
                if state[next] == 1 {
                    let stage = stages.stages[next]
                    throw error("circular dependency detected on stage: \(stage.name ?? String(stage.index))", line: line)
                }
                if state[next] == 0 { try visit(next) }
            }
            state[index] = 2
        }
        for index in stages.stages.indices where state[index] == 0 { try visit(index) }
    }

    mutating func run() {
        for warning in dockerfile.warnings { warn(warning.rule, warning.message, line: warning.line) }
        checkCasing()
        let declaredGlobals = Set(stages.metaArgs.flatMap { $0.definitions.map(\.name) })
            .union(ArgScope.platformArgs(build: "", target: "").keys)
        for stage in stages.stages {
            checkFrom(stage.from, declaredGlobals: declaredGlobals)
            checkCommands(of: stage)
        }
        for arg in stages.metaArgs { checkCommand(.arg(arg)) }
    }

    mutating func checkCasing() {
        let keywords = dockerfile.instructions.map(\.writtenKeyword)
        let upper = keywords.filter { $0 == $0.uppercased() }.count
        let lower = keywords.filter { $0 == $0.lowercased() }.count
        let majorityIsUpper = upper >= lower
        for instruction in dockerfile.instructions {
            let written = instruction.writtenKeyword
            let matches = majorityIsUpper ? written == written.uppercased() : written == written.lowercased()
            if !matches {
                warn(
                    "ConsistentInstructionCasing",
                    "Command '\(written)' should match the case of the command majority (\(majorityIsUpper ? "uppercase" : "lowercase"))",
                    line: instruction.startLine)
            }
        }
    }

    mutating func checkFrom(_ from: FromCommand, declaredGlobals: Set<String>) {
        let line = from.instruction.startLine
        if let written = from.writtenStageName {
            if written != written.lowercased() {
                warn("StageNameCasing", "Stage name '\(written)' should be lowercase", line: line)
            }
            if ["scratch", "context"].contains(written.lowercased()) {
                warn(
                    "ReservedStageName",
                    "Stage name should not use the same name as reserved stage \"\(written.lowercased())\"", line: line)
            }
        }
        if let asKeyword = from.asKeyword {
            let fromKeyword = from.instruction.writtenKeyword
            let fromUpper = fromKeyword == fromKeyword.uppercased()
            let fromLower = fromKeyword == fromKeyword.lowercased()
            if (fromUpper && asKeyword != asKeyword.uppercased()) || (fromLower && asKeyword != asKeyword.lowercased()) {
                warn("FromAsCasing", "'\(asKeyword)' and '\(fromKeyword)' keywords' casing do not match", line: line)
            }
        }
        let lexer = ShellLexer(escape: dockerfile.directives.escape, skipUnsetEnv: false)
        var environment: [String: String] = [:]
        for name in declaredGlobals { environment[name] = "" }
        for text in [from.baseName] + (from.platform.map { [$0] } ?? []) {
            guard let unset = try? lexer.processReportingUnset(text, environment: environment).unset else { continue }
            for name in unset {
                warn("UndefinedArgInFrom", "FROM argument '\(name)' is not declared", line: line)
            }
        }
    }

    /// Whether the stage or a stage it is built on sets SHELL: then shell form is deliberate.
    func setsShell(_ stage: Stage) -> Bool {
        var current: Stage? = stage
        while let candidate = current {
            if candidate.commands.contains(where: { if case .shell = $0 { true } else { false } }) { return true }
            current = stages.stage(named: candidate.baseName, before: candidate.index)
        }
        return false
    }

    mutating func checkCommands(of stage: Stage) {
        var seenOnce: [String: Int] = [:]
        var hasAbsoluteWorkdir = false
        let shellIsExplicit = setsShell(stage)
        for command in stage.commands {
            checkCommand(command, shellIsExplicit: shellIsExplicit)
            switch command {
            case .cmd, .entrypoint, .healthcheck:
                let keyword = command.instruction.keyword
                if let previous = seenOnce[keyword] {
                    warn(
                        "MultipleInstructionsDisallowed",
                        "Multiple \(keyword) instructions should not be used in the same stage because only the last one will be used",
                        line: previous)
                }
                seenOnce[keyword] = command.line
            case .workdir(let workdir):
                let absolute = workdir.value.hasPrefix("/") || workdir.value.hasPrefix("$")
                if !absolute && !hasAbsoluteWorkdir {
                    warn(
                        "WorkdirRelativePath",
                        "Relative workdir \"\(workdir.value)\" can have unexpected results if the base image changes",
                        line: command.line)
                }
                hasAbsoluteWorkdir = hasAbsoluteWorkdir || absolute
            default:
                break
            }
        }
    }

    mutating func checkCommand(_ command: Command, shellIsExplicit: Bool = false) {
        let line = command.line
        switch command {
        case .maintainer:
            warn("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", line: line)
        case .cmd(let commandLine), .entrypoint(let commandLine):
            if commandLine.prependShell && !shellIsExplicit {
                warn(
                    "JSONArgsRecommended",
                    "JSON arguments recommended for \(command.instruction.keyword) to prevent unintended behavior related to OS signals",
                    line: line)
            }
        case .env(let keyValue), .label(let keyValue):
            if keyValue.isLegacyForm {
                let keyword = command.instruction.keyword
                warn(
                    "LegacyKeyValueFormat",
                    "\"\(keyword) key=value\" should be used instead of legacy \"\(keyword) key value\" format", line: line)
            }
        case .expose(let expose):
            for port in expose.ports {
                if let slash = port.firstIndex(of: "/") {
                    let proto = port[port.index(after: slash)...]
                    if proto != proto.lowercased() {
                        warn("ExposeProtoCasing", "Defined protocol '\(port)' in EXPOSE instruction should be lowercase", line: line)
                    }
                }
            }
        case .onbuild(let onbuild):
            checkCommand(onbuild.trigger, shellIsExplicit: shellIsExplicit)
        default:
            break
        }
    }
}
