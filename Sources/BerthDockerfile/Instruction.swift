/// One instruction of a Dockerfile as the parser saw it, before its arguments are given meaning.
public struct Instruction: Equatable, Sendable {
    /// The instruction keyword, upper-cased (`RUN`, `COPY`, ...).
    public var keyword: String
    /// The keyword as written, for casing checks.
    public var writtenKeyword: String
    /// The logical line after joining continuations and dropping comment lines.
    public var original: String
    /// 1-based line where the instruction starts.
    public var startLine: Int
    /// 1-based line where it ends, including any heredoc bodies.
    public var endLine: Int
    /// Leading `--name=value` / `--name` flags, in order.
    public var flags: [Flag]
    /// The arguments, split the way BuildKit's parser splits them for this instruction:
    /// one element per JSON string in exec form; for shell-form RUN/CMD/ENTRYPOINT/SHELL the
    /// whole rest of the line; whitespace-separated words for FROM/EXPOSE/ADD/COPY/VOLUME;
    /// alternating keys and values for ENV and LABEL; `[type, command...]` for HEALTHCHECK.
    public var arguments: [String]
    /// The text after the keyword and flags, as written.
    public var rawArguments: String
    /// Whether the arguments were written as a JSON array (exec form).
    public var isJSON: Bool
    /// For ENV and LABEL: written in the legacy `KEY name value` form.
    public var usesLegacyKeyValueForm: Bool
    /// Heredoc bodies attached to this instruction, in the order their markers appear.
    public var heredocs: [Heredoc]
    /// The comment lines directly above the instruction.
    public var comments: [String]
    private var triggerStorage: [Instruction]

    /// For ONBUILD: the wrapped trigger instruction.
    public var trigger: Instruction? {
        get { triggerStorage.first }
        set { triggerStorage = newValue.map { [$0] } ?? [] }
    }

    public init(
        keyword: String, writtenKeyword: String? = nil, original: String, startLine: Int, endLine: Int,
        flags: [Flag] = [], arguments: [String] = [], rawArguments: String = "", isJSON: Bool = false,
        usesLegacyKeyValueForm: Bool = false, heredocs: [Heredoc] = [], comments: [String] = [],
        trigger: Instruction? = nil
    ) {
        self.keyword = keyword.uppercased()
        self.writtenKeyword = writtenKeyword ?? keyword
        self.original = original
        self.startLine = startLine
        self.endLine = endLine
        self.flags = flags
        self.arguments = arguments
        self.rawArguments = rawArguments
        self.isJSON = isJSON
        self.usesLegacyKeyValueForm = usesLegacyKeyValueForm
        self.heredocs = heredocs
        self.comments = comments
        self.triggerStorage = trigger.map { [$0] } ?? []
    }
}

/// A builder flag such as `--from=build` or `--link`.
public struct Flag: Equatable, Sendable {
    /// The name without the leading dashes.
    public var name: String
    /// The value after `=`, or nil when written without `=` (a boolean switch).
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }

    /// The flag as it would be written: `--name=value` or `--name`.
    public var text: String { value.map { "--\(name)=\($0)" } ?? "--\(name)" }
}

/// A here-document attached to RUN, COPY or ADD (`<<EOF` ... `EOF`).
public struct Heredoc: Equatable, Sendable {
    /// The delimiter word with quotes removed.
    public var name: String
    /// The body, each line ending in a newline; with `<<-`, leading tabs are already removed.
    public var content: String
    /// False when any part of the delimiter was quoted: the body is then taken literally.
    public var expand: Bool
    /// Written as `<<-`: leading tabs stripped from body lines and the terminator.
    public var chomp: Bool
    /// The file descriptor before `<<` (`2<<EOF`), 0 (standard input) when none was written.
    public var fileDescriptor: Int

    public init(name: String, content: String, expand: Bool, chomp: Bool, fileDescriptor: Int = 0) {
        self.name = name
        self.content = content
        self.expand = expand
        self.chomp = chomp
        self.fileDescriptor = fileDescriptor
    }
}

/// A non-fatal problem the parser noticed, such as an empty continuation line.
public struct ParseWarning: Equatable, Sendable {
    /// The build-check rule name (for example `NoEmptyContinuation`).
    public var rule: String
    /// One line describing the problem.
    public var message: String
    /// 1-based line it refers to.
    public var line: Int

    public init(rule: String, message: String, line: Int) {
        self.rule = rule
        self.message = message
        self.line = line
    }
}
