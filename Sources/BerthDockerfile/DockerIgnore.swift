import Foundation

/// The patterns of a `.dockerignore` file, matched the way Docker's patternmatcher does.
///
/// Each line is a Go `filepath.Match` pattern (`*`, `?`, `[...]`, `\` escapes) where `**`
/// matches any number of directories. A leading `!` makes an exception that re-includes
/// what an earlier pattern excluded; the last matching pattern wins. Patterns are cleaned
/// like `filepath.Clean` (so `./a/`, `/a` and `a` are the same) and a pattern that matches a
/// directory also excludes everything under it. Lines starting with `#` and blank lines are
/// ignored.
public struct DockerIgnore: Sendable {
    /// One cleaned pattern.
    public struct Pattern: Sendable {
        /// The cleaned pattern text, without `!`.
        public let text: String
        /// Written with a leading `!`.
        public let isException: Bool
        let segments: [String]
        let regex: NSRegularExpression?

        init(text: String, isException: Bool) {
            self.text = text
            self.isException = isException
            self.segments = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            self.regex = try? NSRegularExpression(pattern: Self.regex(for: text), options: [])
        }

        /// The pattern as an anchored regular expression: `*` and `?` never cross `/`, `**`
        /// crosses any number of directories.
        static func regex(for pattern: String) -> String {
            var regex = "^"
            let chars = Array(pattern)
            var i = 0
            while i < chars.count {
                let ch = chars[i]
                i += 1
                switch ch {
                case "*":
                    if i < chars.count && chars[i] == "*" {
                        i += 1
                        if i < chars.count && chars[i] == "/" { i += 1 }
                        regex += i == chars.count ? ".*" : "(.*/)?"
                    } else {
                        regex += "[^/]*"
                    }
                case "?":
                    regex += "[^/]"
                case "\\":
                    if i < chars.count {
                        regex += NSRegularExpression.escapedPattern(for: String(chars[i]))
                        i += 1
                    } else {
                        regex += "\\\\"
                    }
                case "[", "]":
                    regex.append(ch)
                    // Character classes pass through to the regular expression, so `[^...]`
                    // negates (as in Go's filepath.Match) while `[!...]` does not.
                    if ch == "[", i < chars.count, chars[i] == "^" {
                        regex += "^"
                        i += 1
                    }
                default:
                    regex += NSRegularExpression.escapedPattern(for: String(ch))
                }
            }
            return regex + "$"
        }

        func matches(_ path: String) -> Bool {
            guard let regex else { return false }
            let range = NSRange(path.startIndex..., in: path)
            return regex.firstMatch(in: path, options: [], range: range) != nil
        }
    }

    /// The patterns in file order.
    public let patterns: [Pattern]

    /// Patterns Docker rejects (an unclosed `[`, a lone `!`); they never match. A builder
    /// should report them the way Docker fails on them.
    public var malformedPatterns: [String] {
        patterns.filter { $0.regex == nil || $0.text.isEmpty }.map { ($0.isException ? "!" : "") + $0.text }
    }

    /// Parses the contents of a `.dockerignore` file.
    public init(contents: String) {
        var patterns: [Pattern] = []
        var first = true
        for rawLine in contents.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(rawLine)
            if first, line.unicodeScalars.first == "\u{FEFF}" { line.unicodeScalars.removeFirst() }
            first = false
            if line.hasPrefix("#") { continue }
            line = line.trimmingWhitespace()
            if line.isEmpty { continue }
            let isException = line.hasPrefix("!")
            if isException { line = line.dropFirst().trimmingSpaces() }
            if !line.isEmpty {
                line = Self.clean(line)
                if line.count > 1 && line.hasPrefix("/") { line.removeFirst() }
            }
            patterns.append(Pattern(text: line, isException: isException))
        }
        self.patterns = patterns
    }

    /// Whether any pattern is an exception (`!`).
    public var hasExceptions: Bool { patterns.contains(where: \.isException) }

    /// Whether the path (relative to the build context, `/`-separated) is excluded from the
    /// context. A path is also excluded when a pattern matches one of its parent directories.
    /// `isDirectory` does not change the answer (Docker matches directories and files alike);
    /// it is accepted so callers can pass what they know.
    public func isExcluded(_ relativePath: String, isDirectory: Bool = false) -> Bool {
        let path = Self.clean(relativePath)
        let parents = path.split(separator: "/").map(String.init).dropLast()
        var excluded = false
        for pattern in patterns {
            // Only a pattern that could flip the current answer needs evaluating.
            if pattern.isException != excluded { continue }
            var match = pattern.matches(path)
            if !match && !parents.isEmpty {
                var prefix = ""
                for parent in parents {
                    prefix = prefix.isEmpty ? parent : prefix + "/" + parent
                    if pattern.matches(prefix) {
                        match = true
                        break
                    }
                }
            }
            if match { excluded = !pattern.isException }
        }
        return excluded
    }

    /// Whether a directory walk can skip `relativeDirectory` without looking inside: it is
    /// excluded and no exception pattern could re-include anything under it.
    public func canSkipDirectory(_ relativeDirectory: String) -> Bool {
        guard isExcluded(relativeDirectory, isDirectory: true) else { return false }
        let directory = Self.clean(relativeDirectory).split(separator: "/").map(String.init)
        return !patterns.contains { $0.isException && Self.couldMatchBelow($0.segments, directory) }
    }

    /// Whether a pattern could match some path strictly inside `directory`.
    static func couldMatchBelow(_ pattern: [String], _ directory: [String]) -> Bool {
        for (index, component) in directory.enumerated() {
            guard index < pattern.count else { return false }
            let segment = pattern[index]
            if segment.contains("**") { return true }
            let single = Pattern(text: segment, isException: false)
            if !single.matches(component) { return false }
        }
        return pattern.count > directory.count
    }

    /// Go's `filepath.Clean` for `/`-separated paths.
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(part)
                }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}
