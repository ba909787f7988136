import Foundation

/// Parser directives: the `# name=value` comments at the very top of a Dockerfile.
///
/// BuildKit reads them only until the first line that is not a directive (a blank line, a
/// plain comment, an instruction or an unknown directive). Names are case-insensitive and
/// each may appear once.
public struct ParserDirectives: Equatable, Sendable {
    /// The escape character, `\` by default; `# escape=`` selects the backtick.
    public var escape: Character = "\\"
    /// The frontend image named by `# syntax=`, if any.
    public var syntax: String?
    /// The build-check configuration from `# check=`, if any.
    public var check: CheckDirective?

    public init(escape: Character = "\\", syntax: String? = nil, check: CheckDirective? = nil) {
        self.escape = escape
        self.syntax = syntax
        self.check = check
    }

    /// The directive names BuildKit recognises.
    public static let names: Set<String> = ["escape", "syntax", "check"]
}

/// The `# check=skip=RuleA,RuleB;error=true` directive controlling build checks.
public struct CheckDirective: Equatable, Sendable {
    /// Rules not to report. Compared case-insensitively.
    public var skip: Set<String> = []
    /// `skip=all` turns every rule off.
    public var skipAll = false
    /// `error=true` makes the build fail when a check reports something.
    public var error = false

    public init(skip: Set<String> = [], skipAll: Bool = false, error: Bool = false) {
        self.skip = skip
        self.skipAll = skipAll
        self.error = error
    }

    /// Parses the directive's value: `;`-separated `key=value` options.
    public init(parsing value: String) throws {
        for part in value.split(separator: ";") {
            let option = part.trimmingSpaces()
            if option.isEmpty { continue }
            guard let eq = option.firstIndex(of: "=") else {
                throw InstructionError("invalid check option \"\(option)\": expected key=value")
            }
            let key = option[..<eq].trimmingSpaces().lowercased()
            let optionValue = option[option.index(after: eq)...].trimmingSpaces()
            switch key {
            case "skip":
                for rule in optionValue.split(separator: ",") {
                    let name = rule.trimmingSpaces()
                    if name.lowercased() == "all" { skipAll = true } else if !name.isEmpty { skip.insert(name.lowercased()) }
                }
            case "error":
                switch optionValue.lowercased() {
                case "true": error = true
                case "false": error = false
                default: throw InstructionError("invalid check option error=\(optionValue): expected true or false")
                }
            case "experimental":
                continue
            default:
                throw InstructionError("invalid check option \"\(key)\"")
            }
        }
    }

    /// Whether the named rule is turned off.
    public func skips(_ rule: String) -> Bool { skipAll || skip.contains(rule.lowercased()) }
}

