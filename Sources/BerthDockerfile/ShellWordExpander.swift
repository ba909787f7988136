/// Shell-style word expansion as BuildKit's Dockerfile front end performs it.
///
/// Supports `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
/// `${VAR:?message}`, `${VAR?message}`, pattern removal `${VAR#p}` `${VAR##p}` `${VAR%p}`
/// `${VAR%%p}` and substitution `${VAR/p/r}` `${VAR//p/r}`. Single quotes are literal, double
/// quotes allow `$` expansion, and the escape character (`\` or `` ` ``) quotes the next
/// character. Unset variables expand to the empty string.
public struct ShellWordExpander: Sendable {
    /// The Dockerfile's escape character.
    public var escape: Character

    public init(escape: Character = "\\") {
        self.escape = escape
    }

    /// Expands one word and removes quotes, without splitting it.
    public func expand(_ word: String, environment: [String: String]) throws -> String {
        try ShellLexer(escape: escape).process(word, environment: environment).word
    }

    /// Expands `text` and splits it into words at unquoted whitespace, the way
    /// `EXPOSE $PORTS` or a heredoc marker scan sees it. Text that came from a variable is
    /// split too; quoted and escaped whitespace is not.
    public func expandWords(_ text: String, environment: [String: String]) throws -> [String] {
        try ShellLexer(escape: escape).process(text, environment: environment).words
    }

    /// Expands variables in free text such as a COPY heredoc's body, as BuildKit does for an
    /// unquoted delimiter: quotes are ordinary characters (kept, and `$` inside them still
    /// expands), and the escape character quotes the next character.
    public func expandText(_ text: String, environment: [String: String]) throws -> String {
        var lexer = ShellLexer(escape: escape)
        lexer.skipProcessQuotes = true
        return try lexer.process(text, environment: environment).word
    }
}

/// An error from word expansion; its message matches BuildKit's.
public struct ShellExpansionError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// The lexer behind `ShellWordExpander`, with the extra modes the parser needs to find
/// heredoc markers (quotes and escapes kept verbatim, unset variables left as written).
struct ShellLexer {
    var escape: Character
    var rawQuotes = false
    var rawEscapes = false
    var skipUnsetEnv = false
    /// Quotes are ordinary characters (free text, not a word).
    var skipProcessQuotes = false

    func process(_ text: String, environment: [String: String]) throws -> (word: String, words: [String]) {
        var state = LexState(chars: Array(text), lexer: self, environment: environment)
        return try state.processStopOn(nil, rawEscapes: rawEscapes)
    }

    /// Expands one word and also reports the variables it referenced that were not set.
    func processReportingUnset(_ text: String, environment: [String: String]) throws -> (word: String, unset: [String]) {
        var state = LexState(chars: Array(text), lexer: self, environment: environment)
        let word = try state.processStopOn(nil, rawEscapes: rawEscapes).word
        return (word, state.unset)
    }
}

private struct WordCollector {
    var words: [String] = []
    var word = ""
    var inWord = false

    mutating func addChar(_ ch: Character) {
        if ch.isWhitespace {
            if inWord && !word.isEmpty {
                words.append(word)
                word = ""
                inWord = false
            }
        } else {
            addRawChar(ch)
        }
    }

    mutating func addRawChar(_ ch: Character) {
        word.append(ch)
        inWord = true
    }

    mutating func addString(_ text: String) {
        for ch in text { addChar(ch) }
    }

    mutating func addRawString(_ text: String) {
        word += text
        inWord = true
    }

    mutating func finish() -> [String] {
        if !word.isEmpty {
            words.append(word)
            word = ""
            inWord = false
        }
        return words
    }
}

private struct LexState {
    let chars: [Character]
    var pos = 0
    let lexer: ShellLexer
    let environment: [String: String]
    var unset: [String] = []

    init(chars: [Character], lexer: ShellLexer, environment: [String: String]) {
        self.chars = chars
        self.lexer = lexer
        self.environment = environment
    }

    var peek: Character? { pos < chars.count ? chars[pos] : nil }

    mutating func next() -> Character? {
        guard pos < chars.count else { return nil }
        defer { pos += 1 }
        return chars[pos]
    }

    mutating func lookup(_ name: String) -> String? {
        guard let value = environment[name] else {
            if !unset.contains(name) { unset.append(name) }
            return nil
        }
        return value
    }

    mutating func processStopOn(_ stop: Character?, rawEscapes: Bool) throws -> (word: String, words: [String]) {
        var result = ""
        var words = WordCollector()
        while let ch = peek {
            if let stop, ch == stop {
                pos += 1
                return (result, words.finish())
            }
            if ch == "$" {
                let value = try processDollar()
                result += value
                words.addString(value)
            } else if ch == "'", !lexer.skipProcessQuotes {
                let value = try processSingleQuote()
                result += value
                words.addRawString(value)
            } else if ch == "\"", !lexer.skipProcessQuotes {
                let value = try processDoubleQuote()
                result += value
                words.addRawString(value)
            } else {
                pos += 1
                var current = ch
                if current == lexer.escape {
                    if rawEscapes {
                        words.addRawChar(current)
                        result.append(current)
                    }
                    // The escape character quotes the next one, except at the very end.
                    guard let escaped = next() else { break }
                    current = escaped
                    words.addRawChar(current)
                } else {
                    words.addChar(current)
                }
                result.append(current)
            }
        }
        if let stop {
            throw ShellExpansionError("unexpected end of statement while looking for matching \(stop)")
        }
        return (result, words.finish())
    }

    mutating func processSingleQuote() throws -> String {
        var result = ""
        pos += 1
        if lexer.rawQuotes { result.append("'") }
        while true {
            guard let ch = next() else {
                throw ShellExpansionError("unexpected end of statement while looking for matching single-quote")
            }
            if ch == "'" {
                if lexer.rawQuotes { result.append(ch) }
                return result
            }
            result.append(ch)
        }
    }

    mutating func processDoubleQuote() throws -> String {
        var result = ""
        pos += 1
        if lexer.rawQuotes { result.append("\"") }
        while true {
            guard let ch = peek else {
                throw ShellExpansionError("unexpected end of statement while looking for matching double-quote")
            }
            if ch == "\"" {
                pos += 1
                if lexer.rawQuotes { result.append(ch) }
                return result
            }
            if ch == "$" {
                result += try processDollar()
                continue
            }
            pos += 1
            var current = ch
            if current == lexer.escape {
                if lexer.rawEscapes { result.append(current) }
                guard let following = peek else { continue }
                // Inside double quotes only `"`, `$` and the escape character itself can be escaped.
                if following == "\"" || following == "$" || following == lexer.escape {
                    pos += 1
                    current = following
                } else if lexer.rawEscapes {
                    continue
                }
            }
            result.append(current)
        }
    }

    mutating func processName() -> String {
        var name = ""
        while let ch = peek {
            if name.isEmpty && ch.isASCII && ch.isNumber {
                while let digit = peek, digit.isASCII, digit.isNumber {
                    name.append(digit)
                    pos += 1
                }
                return name
            }
            if name.isEmpty && "@*#?-$!0".contains(ch) {
                pos += 1
                return String(ch)
            }
            guard ch.isLetter || ch.isNumber || ch == "_" else { break }
            name.append(ch)
            pos += 1
        }
        return name
    }

    mutating func processDollar() throws -> String {
        pos += 1
        if peek != "{" {
            let name = processName()
            if name.isEmpty { return "$" }
            guard let value = lookup(name) else { return lexer.skipUnsetEnv ? "$" + name : "" }
            return value
        }
        pos += 1
        switch peek {
        case nil: throw ShellExpansionError("syntax error: missing '}'")
        case "{", "}", ":": throw ShellExpansionError("syntax error: bad substitution")
        default: break
        }
        let name = processName()
        guard let modifier = next() else { throw ShellExpansionError("syntax error: missing '}'") }
        let value = lookup(name)
        switch modifier {
        case "}":
            guard let value else { return lexer.skipUnsetEnv ? "${\(name)}" : "" }
            return value
        case "?":
            let word = try substitutionWord()
            guard let value else {
                if lexer.skipUnsetEnv { return "${\(name)?\(word)}" }
                throw ShellExpansionError("\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
            }
            return value
        case ":":
            guard let inner = next() else { throw ShellExpansionError("syntax error: missing '}'") }
            let word = try substitutionWord()
            if lexer.skipUnsetEnv && value == nil { return "${\(name):\(inner)\(word)}" }
            let current = value ?? ""
            switch inner {
            case "+": return current.isEmpty ? "" : word
            case "-": return current.isEmpty ? word : current
            case "?":
                guard value != nil else {
                    throw ShellExpansionError("\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
                }
                if current.isEmpty {
                    throw ShellExpansionError("\(name): \(word.isEmpty ? "is not allowed to be empty" : word)")
                }
                return current
            default:
                throw ShellExpansionError("unsupported modifier (\(inner)) in substitution")
            }
        case "+", "-":
            let word = try substitutionWord()
            if lexer.skipUnsetEnv && value == nil { return "${\(name)\(modifier)\(word)}" }
            if modifier == "+" { return value == nil ? "" : word }
            return value ?? word
        case "#", "%":
            var longest = false
            if peek == modifier {
                pos += 1
                longest = true
            }
            let pattern = try substitutionWord(rawEscapes: true)
            if lexer.skipUnsetEnv && value == nil {
                return "${\(name)\(modifier)\(longest ? String(modifier) : "")\(pattern)}"
            }
            let glob = ShellPattern(pattern, escape: lexer.escape)
            return modifier == "#"
                ? glob.removingPrefix(of: value ?? "", longest: longest)
                : glob.removingSuffix(of: value ?? "", longest: longest)
        case "/":
            var all = false
            if peek == "/" {
                pos += 1
                all = true
            }
            let pattern = try processStopOn("/", rawEscapes: true).word
            let replacement = try substitutionWord(rawEscapes: true)
            if lexer.skipUnsetEnv && value == nil {
                return "${\(name)/\(all ? "/" : "")\(pattern)/\(replacement)}"
            }
            return ShellPattern(pattern, escape: lexer.escape).replacing(in: value ?? "", with: replacement, all: all)
        default:
            throw ShellExpansionError("unsupported modifier (\(modifier)) in substitution")
        }
    }

    /// The word after a substitution operator, up to the closing brace.
    mutating func substitutionWord(rawEscapes: Bool? = nil) throws -> String {
        do {
            return try processStopOn("}", rawEscapes: rawEscapes ?? lexer.rawEscapes).word
        } catch {
            if peek == nil { throw ShellExpansionError("syntax error: missing '}'") }
            throw error
        }
    }
}

/// The glob of `${VAR#pattern}` and friends as BuildKit implements it: `*` matches any
/// text, `?` any one character, the escape character makes the next one literal, and every
/// other character (brackets included) is literal.
struct ShellPattern {
    private enum Element {
        case literal(Character)
        case any
        case anyString
    }

    private let elements: [Element]

    init(_ pattern: String, escape: Character) {
        var elements: [Element] = []
        var iterator = pattern.makeIterator()
        while let ch = iterator.next() {
            if ch == escape {
                elements.append(.literal(iterator.next() ?? ch))
                continue
            }
            switch ch {
            case "*": elements.append(.anyString)
            case "?": elements.append(.any)
            default: elements.append(.literal(ch))
            }
        }
        self.elements = elements
    }

    /// Whether the whole of `text` matches.
    func matches(_ text: ArraySlice<Character>) -> Bool {
        matches(text, elements[...])
    }

    private func matches(_ text: ArraySlice<Character>, _ pattern: ArraySlice<Element>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        let rest = pattern.dropFirst()
        switch first {
        case .anyString:
            var index = text.startIndex
            while true {
                if matches(text[index...], rest) { return true }
                if index == text.endIndex { return false }
                index += 1
            }
        case .any:
            guard !text.isEmpty else { return false }
            return matches(text.dropFirst(), rest)
        case .literal(let ch):
            guard text.first == ch else { return false }
            return matches(text.dropFirst(), rest)
        }
    }

    func removingPrefix(of value: String, longest: Bool) -> String {
        let chars = Array(value)
        let lengths = longest ? Array((0...chars.count).reversed()) : Array(0...chars.count)
        for length in lengths where matches(chars[..<length]) {
            return String(chars[length...])
        }
        return value
    }

    func removingSuffix(of value: String, longest: Bool) -> String {
        let chars = Array(value)
        let starts = longest ? Array(0...chars.count) : Array((0...chars.count).reversed())
        for start in starts where matches(chars[start...]) {
            return String(chars[..<start])
        }
        return value
    }

    /// Replaces the leftmost-longest match, or with `all` every non-overlapping non-empty match.
    func replacing(in value: String, with replacement: String, all: Bool) -> String {
        let chars = Array(value)
        var result = ""
        var start = 0
        var replaced = false
        while start <= chars.count {
            var matchEnd: Int?
            if all || !replaced {
                for end in stride(from: chars.count, through: start, by: -1) where matches(chars[start..<end]) {
                    // Replacing every empty match would never advance; a single replacement may be empty.
                    if end > start || !all { matchEnd = end }
                    break
                }
            }
            if let end = matchEnd {
                result += replacement
                replaced = true
                if end > start {
                    start = end
                    continue
                }
            }
            if start < chars.count { result.append(chars[start]) }
            start += 1
        }
        return result
    }
}
