import Foundation

/// Turns one logical line into an `Instruction`, splitting its arguments the way BuildKit's
/// parser does for each keyword.
struct InstructionParser {
    let escape: Character

    static func isBlank(_ ch: Character) -> Bool { ch == " " || ch == "\t" || ch == "\u{0B}" || ch == "\u{0C}" || ch == "\r" }

    func instruction(from line: String, startLine: Int, endLine: Int, comments: [String]) throws -> Instruction {
        let trimmed = line.trimmingSpaces()
        let keyword = String(trimmed.prefix(while: { !Self.isBlank($0) }))
        let afterKeyword = String(trimmed.dropFirst(keyword.count).drop(while: Self.isBlank))
        let (rest, flagWords) = Self.extractFlags(afterKeyword)
        let upper = keyword.uppercased()
        guard Dockerfile.knownInstructions.contains(upper) else {
            throw InstructionError("unknown instruction: \(keyword)")
        }
        var instruction = Instruction(
            keyword: upper, writtenKeyword: keyword, original: line, startLine: startLine, endLine: endLine,
            flags: try flagWords.map(Self.flag), rawArguments: rest, comments: comments)
        switch upper {
        case "ADD", "COPY", "VOLUME":
            if let json = try Self.parseJSON(rest) {
                instruction.arguments = json
                instruction.isJSON = true
            } else {
                instruction.arguments = Self.splitWhitespace(rest)
            }
        case "CMD", "ENTRYPOINT", "RUN", "SHELL":
            if let json = try Self.parseJSON(rest) {
                instruction.arguments = json
                instruction.isJSON = true
            } else if !rest.isEmpty {
                instruction.arguments = [rest]
            }
        case "EXPOSE", "FROM":
            instruction.arguments = Self.splitWhitespace(rest)
        case "ENV", "LABEL":
            (instruction.arguments, instruction.usesLegacyKeyValueForm) = try parseNameValue(rest, keyword: upper)
        case "ARG":
            instruction.arguments = words(rest)
        case "HEALTHCHECK":
            let type = String(rest.prefix(while: { !$0.isWhitespace }))
            if !type.isEmpty {
                let command = String(rest.dropFirst(type.count).drop(while: { $0.isWhitespace }))
                instruction.arguments = [type]
                if let json = try Self.parseJSON(command) {
                    instruction.arguments += json
                    instruction.isJSON = true
                } else if !command.isEmpty {
                    instruction.arguments.append(command)
                }
            }
        case "ONBUILD":
            if !rest.isEmpty {
                instruction.trigger = try self.instruction(from: rest, startLine: startLine, endLine: endLine, comments: [])
                instruction.arguments = [rest]
            }
        default:
            // MAINTAINER, STOPSIGNAL, USER, WORKDIR take the rest of the line as one string.
            if !rest.isEmpty { instruction.arguments = [rest] }
        }
        return instruction
    }

    static func flag(_ word: String) throws -> Flag {
        guard word.hasPrefix("--") else { throw InstructionError("arg \"\(word)\" must start with --") }
        let body = word.dropFirst(2)
        guard let eq = body.firstIndex(of: "=") else { return Flag(name: String(body), value: nil) }
        return Flag(name: String(body[..<eq]), value: String(body[body.index(after: eq)...]))
    }

    static func splitWhitespace(_ text: String) -> [String] {
        text.isEmpty ? [] : text.split(whereSeparator: isBlank).map(String.init)
    }

    /// Exec form: a JSON array of strings. Returns nil when the text is not valid JSON so the
    /// caller falls back to shell form; a valid array holding non-strings is an error.
    static func parseJSON(_ text: String) throws -> [String]? {
        let trimmed = text.drop(while: { $0.isWhitespace })
        guard trimmed.first == "[" else { return nil }
        guard let value = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)), let array = value as? [Any] else {
            return nil
        }
        var strings: [String] = []
        for element in array {
            guard let string = element as? String else {
                throw InstructionError("when using JSON array syntax, arrays must be comprised of strings only")
            }
            strings.append(string)
        }
        return strings
    }

    /// Leading `--flag` words, with `\` escapes and quotes resolved; returns the remainder.
    static func extractFlags(_ line: String) -> (String, [String]) {
        let chars = Array(line)
        var words: [String] = []
        var pos = 0
        while true {
            while pos < chars.count, chars[pos].isWhitespace { pos += 1 }
            guard pos + 1 < chars.count, chars[pos] == "-", chars[pos + 1] == "-" else {
                return (String(chars[min(pos, chars.count)...]), words)
            }
            var word = ""
            var quote: Character?
            var blankOK = false
            while pos < chars.count {
                let ch = chars[pos]
                if quote == nil && ch.isWhitespace { break }
                pos += 1
                if let open = quote {
                    if ch == open {
                        quote = nil
                        continue
                    }
                } else if ch == "'" || ch == "\"" {
                    quote = ch
                    blankOK = true
                    continue
                }
                if ch == "\\" {
                    guard pos < chars.count else { continue }
                    word.append(chars[pos])
                    pos += 1
                    continue
                }
                word.append(ch)
            }
            // A bare `--` ends the flags.
            if word == "--" { return (String(chars[pos...]).trimmingSpaces(), words) }
            if blankOK || !word.isEmpty { words.append(word) }
        }
    }

    /// Splits on whitespace outside quotes, keeping quotes and escapes in the words
    /// (BuildKit's parseWords, used for ENV, LABEL and ARG).
    func words(_ text: String) -> [String] {
        let chars = Array(text)
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var blankOK = false
        var pos = 0
        while pos < chars.count {
            var ch = chars[pos]
            if !inWord {
                if ch.isWhitespace {
                    pos += 1
                    continue
                }
                inWord = true
            }
            if let open = quote {
                if ch == open { quote = nil }
                if ch == escape && open != "'" {
                    if pos + 1 == chars.count {
                        quote = nil
                        pos += 1
                        continue
                    }
                    pos += 1
                    word.append(ch)
                    ch = chars[pos]
                }
                word.append(ch)
                pos += 1
                continue
            }
            if ch.isWhitespace {
                if blankOK || !word.isEmpty { words.append(word) }
                word = ""
                blankOK = false
                inWord = false
                pos += 1
                continue
            }
            if ch == "'" || ch == "\"" {
                quote = ch
                blankOK = true
            }
            if ch == escape {
                if pos + 1 == chars.count {
                    pos += 1
                    continue
                }
                word.append(ch)
                pos += 1
                ch = chars[pos]
            }
            word.append(ch)
            pos += 1
        }
        if inWord && (blankOK || !word.isEmpty) { words.append(word) }
        return words
    }

    /// ENV and LABEL: `name=value ...`, or the legacy `name value` where the value is the
    /// rest of the line. Returns alternating keys and values (still quoted).
    func parseNameValue(_ text: String, keyword: String) throws -> ([String], Bool) {
        let parts = words(text)
        guard let first = parts.first else { return ([], false) }
        if !first.contains("=") {
            let name = String(text.prefix(while: { !Self.isBlank($0) }))
            let value = String(text.dropFirst(name.count).drop(while: Self.isBlank))
            guard !value.isEmpty else { throw InstructionError("\(keyword) must have two arguments") }
            return ([name, value], true)
        }
        var result: [String] = []
        for part in parts {
            guard let eq = part.firstIndex(of: "=") else {
                throw InstructionError(
                    "Syntax error - can't find = in \"\(part)\". Must be of the form: name=value")
            }
            result.append(String(part[..<eq]))
            result.append(String(part[part.index(after: eq)...]))
        }
        return (result, false)
    }
}
