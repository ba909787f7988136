extension Command {
    /// The command with the builder's word expansion applied, for the instructions in
    /// `expandingInstructions`; other commands are returned unchanged.
    ///
    /// ENV and LABEL keys and values, ARG defaults, ADD/COPY sources, destination and
    /// `--from`/`--chown`/`--chmod`/`--checksum`/`--exclude`, WORKDIR, USER, STOPSIGNAL,
    /// VOLUME and FROM (`--platform` too) are expanded one word each, removing quotes; the bodies
    /// of ADD/COPY heredocs with an unquoted delimiter are expanded as text, keeping quotes;
    /// EXPOSE is expanded and split into words, so `EXPOSE $PORTS` can name several ports.
    /// Every value in one instruction sees the environment as it was before it.
    public func expanded(
        with environment: [String: String], escape: Character = "\\", fileName: String = "Dockerfile"
    ) throws -> Command {
        let shell = ShellWordExpander(escape: escape)
        func word(_ text: String) throws -> String { try shell.expand(text, environment: environment) }
        func optional(_ text: String?) throws -> String? { try text.map(word) }
        // A heredoc body is expanded as text (quotes kept) when its delimiter was not quoted, with
        // `\` as the escape whatever the Dockerfile's is, as BuildKit does.
        func bodies(_ heredocs: [Heredoc]) throws -> [Heredoc] {
            try heredocs.map { heredoc in
                guard heredoc.expand else { return heredoc }
                var expanded = heredoc
                expanded.content = try ShellWordExpander(escape: "\\").expandText(heredoc.content, environment: environment)
                return expanded
            }
        }
        do {
            switch self {
            case .from(var c):
                c.baseName = try word(c.baseName)
                c.platform = try optional(c.platform)
                return .from(c)
            case .label(var c):
                c.pairs = try c.pairs.map { KeyValuePair(key: try word($0.key), value: try word($0.value)) }
                return .label(c)
            case .env(var c):
                c.pairs = try c.pairs.map { KeyValuePair(key: try word($0.key), value: try word($0.value)) }
                return .env(c)
            case .expose(var c):
                c.ports = try c.ports.flatMap { try shell.expandWords($0, environment: environment) }
                return .expose(c)
            case .add(var c):
                c.files.sources = try c.files.sources.map(word)
                c.files.destination = try word(c.files.destination)
                c.files.heredocs = try bodies(c.files.heredocs)
                c.chown = try optional(c.chown)
                c.chmod = try optional(c.chmod)
                c.checksum = try optional(c.checksum)
                c.exclude = try c.exclude.map(word)
                return .add(c)
            case .copy(var c):
                c.files.sources = try c.files.sources.map(word)
                c.files.destination = try word(c.files.destination)
                c.files.heredocs = try bodies(c.files.heredocs)
                c.from = try optional(c.from)
                c.chown = try optional(c.chown)
                c.chmod = try optional(c.chmod)
                c.exclude = try c.exclude.map(word)
                return .copy(c)
            case .workdir(var c):
                c.value = try word(c.value)
                return .workdir(c)
            case .user(var c):
                c.value = try word(c.value)
                return .user(c)
            case .stopSignal(var c):
                c.value = try word(c.value)
                return .stopSignal(c)
            case .volume(var c):
                c.paths = try c.paths.map(word)
                return .volume(c)
            case .arg(var c):
                c.definitions = try c.definitions.map {
                    ArgDefinition(name: try word($0.name), defaultValue: try optional($0.defaultValue))
                }
                return .arg(c)
            case .run, .cmd, .entrypoint, .healthcheck, .shell, .onbuild, .maintainer:
                return self
            }
        } catch let error as ShellExpansionError {
            throw DockerfileError(fileName: fileName, line: line, message: error.message)
        }
    }
}
