import Foundation

/// A parsed Dockerfile: its parser directives and its instructions with their positions.
///
/// Parsing follows BuildKit's front end: directives only at the very top, `#` comments only
/// at the start of a line (also inside continuations), line continuations with the escape
/// character, heredocs for RUN, COPY and ADD, and JSON (exec) form with a fallback to shell
/// form when the JSON does not parse.
public struct Dockerfile: Equatable, Sendable {
    /// The name used in error messages.
    public var fileName: String
    /// The `# escape=`, `# syntax=` and `# check=` directives.
    public var directives: ParserDirectives
    /// The instructions in file order.
    public var instructions: [Instruction]
    /// Non-fatal findings, such as empty continuation lines.
    public var warnings: [ParseWarning]

    public init(fileName: String, directives: ParserDirectives, instructions: [Instruction], warnings: [ParseWarning]) {
        self.fileName = fileName
        self.directives = directives
        self.instructions = instructions
        self.warnings = warnings
    }

    /// The instruction keywords Dockerfiles may use.
    public static let knownInstructions: Set<String> = [
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ]

    /// Instructions whose shell form may carry heredocs.
    static let heredocInstructions: Set<String> = ["ADD", "COPY", "RUN"]

    /// Parses Dockerfile text.
    ///
    /// - Throws: `DockerfileError` for a bad directive, an unknown instruction, invalid
    ///   syntax in an instruction's arguments, an unterminated heredoc, or a file with no
    ///   instructions.
    public static func parse(_ text: String, fileName: String = "Dockerfile") throws -> Dockerfile {
        var parser = DockerfileParser(text: text, fileName: fileName)
        return try parser.run()
    }
}

struct DockerfileParser {
    let fileName: String
    var lines: [String]
    var index = 0
    var directives = ParserDirectives()
    var directivesDone = false
    var seenDirectives: Set<String> = []
    var warnings: [ParseWarning] = []

    init(text: String, fileName: String) {
        self.fileName = fileName
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { slice -> String in
            var line = String(String.UnicodeScalarView(slice))
            if line.unicodeScalars.last == "\r" { line.unicodeScalars.removeLast() }
            return line
        }
        if text.unicodeScalars.last == "\n" { lines.removeLast() }
        if let first = lines.first, first.unicodeScalars.first == "\u{FEFF}" {
            lines[0] = String(String.UnicodeScalarView(first.unicodeScalars.dropFirst()))
        }
        self.lines = lines
    }

    func fail(_ message: String, line: Int) -> DockerfileError {
        DockerfileError(fileName: fileName, line: line, message: message)
    }

    /// Reads a directive if directives are still allowed; any other line ends them.
    mutating func considerDirective(_ line: String, lineNumber: Int) throws {
        guard !directivesDone else { return }
        if lineNumber == 1 && line.hasPrefix("#!") { return }
        guard let (name, value) = Self.directive(in: line), ParserDirectives.names.contains(name) else {
            directivesDone = true
            return
        }
        guard seenDirectives.insert(name).inserted else {
            throw fail("only one \(name) parser directive can be used", line: lineNumber)
        }
        switch name {
        case "escape":
            guard value == "`" || value == "\\" else {
                throw fail("invalid escape token '\(value)' does not match ` or \\", line: lineNumber)
            }
            directives.escape = Character(value)
        case "syntax":
            directives.syntax = value
        default:
            do {
                directives.check = try CheckDirective(parsing: value)
            } catch let error as InstructionError {
                throw fail(error.message, line: lineNumber)
            }
        }
    }

    /// Matches `#\s*name\s*=\s*value\s*`, returning the lower-cased name and trimmed value.
    static func directive(in line: String) -> (String, String)? {
        guard line.first == "#" else { return nil }
        var rest = Substring(line.dropFirst()).drop(while: { $0 == " " || $0 == "\t" })
        guard let first = rest.first, first.isASCII, first.isLetter else { return nil }
        let name = rest.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber) })
        rest = rest.dropFirst(name.count).drop(while: { $0 == " " || $0 == "\t" })
        guard rest.first == "=" else { return nil }
        let value = rest.dropFirst().trimmingSpaces()
        guard !value.isEmpty else { return nil }
        return (name.lowercased(), value)
    }

    static func isComment(_ line: String) -> Bool {
        line.drop(while: { $0.isWhitespace }).first == "#"
    }

    /// Strips a trailing escape character (plus trailing blanks); reports whether the line ends
    /// the instruction.
    func trimContinuation(_ line: String) -> (String, Bool) {
        var trimmed = Substring(line)
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        guard trimmed.last == directives.escape else { return (line, true) }
        trimmed.removeLast()
        return (String(trimmed), false)
    }

    mutating func run() throws -> Dockerfile {
        var instructions: [Instruction] = []
        var comments: [String] = []
        while index < lines.count {
            let raw = lines[index]
            index += 1
            let startLine = index
            if Self.isComment(raw) {
                let comment = raw.drop(while: { $0.isWhitespace }).dropFirst().trimmingSpaces()
                if comment.isEmpty { comments = [] } else { comments.append(comment) }
            }
            let stripped = String(raw.drop(while: { $0.isWhitespace }))
            try considerDirective(stripped, lineNumber: startLine)
            if Self.isComment(raw) { continue }
            var (line, isEnd) = trimContinuation(stripped)
            if isEnd && line.isEmpty { continue }
            var hasEmptyContinuation = false
            while !isEnd && index < lines.count {
                let next = lines[index]
                index += 1
                try considerDirective(next, lineNumber: index)
                if Self.isComment(next) { continue }
                if next.allSatisfy({ $0.isWhitespace }) {
                    hasEmptyContinuation = true
                    continue
                }
                let (piece, end) = trimContinuation(next)
                line += piece
                isEnd = end
            }
            if hasEmptyContinuation {
                warnings.append(ParseWarning(
                    rule: "NoEmptyContinuation", message: "Empty continuation line", line: index))
            }
            var instruction: Instruction
            do {
                instruction = try InstructionParser(escape: directives.escape).instruction(
                    from: line, startLine: startLine, endLine: index, comments: comments)
            } catch let error as InstructionError {
                throw fail(error.message, line: startLine)
            } catch let error as ShellExpansionError {
                throw fail(error.message, line: startLine)
            }
            if instruction.trigger.map(Self.acceptsHeredocs) ?? Self.acceptsHeredocs(instruction), line.contains("<<") {
                let markers = Self.heredocMarkers(in: line)
                var heredocs: [Heredoc] = []
                for marker in markers {
                    heredocs.append(try readHeredoc(marker, startLine: startLine))
                }
                instruction.endLine = index
                if instruction.trigger != nil {
                    instruction.trigger?.heredocs = heredocs
                    instruction.trigger?.endLine = index
                } else {
                    instruction.heredocs = heredocs
                }
            }
            instructions.append(instruction)
            comments = []
        }
        if instructions.isEmpty {
            throw fail("file with no instructions", line: max(lines.count, 1))
        }
        return Dockerfile(fileName: fileName, directives: directives, instructions: instructions, warnings: warnings)
    }

    static func acceptsHeredocs(_ instruction: Instruction) -> Bool {
        Dockerfile.heredocInstructions.contains(instruction.keyword) && !instruction.isJSON
    }

    /// Words of the line that are heredoc markers (`<<EOF`, `<<-EOF`, `2<<"EOF"`).
    static func heredocMarkers(in line: String) -> [Heredoc] {
        let lexer = ShellLexer(escape: "\\", rawQuotes: true, rawEscapes: true, skipUnsetEnv: false)
        guard let words = try? lexer.process(line, environment: [:]).words else { return [] }
        return words.compactMap { heredocMarker($0) }
    }

    /// Parses one word as a heredoc marker: optional digits, `<<`, optional `-`, a delimiter.
    static func heredocMarker(_ word: String) -> Heredoc? {
        let digits = word.prefix(while: { $0.isASCII && $0.isNumber })
        var rest = word.dropFirst(digits.count)
        guard rest.hasPrefix("<<") else { return nil }
        rest = rest.dropFirst(2)
        let chomp = rest.first == "-"
        if chomp { rest = rest.dropFirst() }
        guard !rest.isEmpty, !rest.contains("<") else { return nil }
        // Lex the delimiter with and without quote removal: a difference means it was quoted.
        var lexer = ShellLexer(escape: "\\", rawQuotes: false, rawEscapes: false, skipUnsetEnv: true)
        guard let words = try? lexer.process(String(rest), environment: [:]).words, words.count == 1 else { return nil }
        lexer.rawQuotes = true
        guard let rawWords = try? lexer.process(String(rest), environment: [:]).words, rawWords.count == 1 else { return nil }
        let quoteCount = { (text: String) in text.filter { $0 == "'" || $0 == "\"" }.count }
        return Heredoc(
            name: words[0], content: "", expand: quoteCount(words[0]) == quoteCount(rawWords[0]), chomp: chomp,
            fileDescriptor: Int(digits) ?? 0)
    }

    mutating func readHeredoc(_ marker: Heredoc, startLine: Int) throws -> Heredoc {
        var heredoc = marker
        var content = ""
        while index < lines.count {
            let line = lines[index]
            index += 1
            let candidate = marker.chomp ? String(line.drop(while: { $0 == "\t" })) : line
            if candidate == marker.name {
                heredoc.content = content
                return heredoc
            }
            content += (marker.chomp ? String(line.drop(while: { $0 == "\t" })) : line) + "\n"
        }
        throw fail("unterminated heredoc", line: startLine)
    }
}
