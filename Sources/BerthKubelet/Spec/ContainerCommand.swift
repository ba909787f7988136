import BerthKubeAPI

/// Kubernetes' `$(VAR)` references: in a container's command, args and env values, `$(NAME)` is
/// replaced by the variable's value, `$$` stands for a literal `$`, and a reference to a name that
/// is not defined (or one never closed) stays as written.
public enum VariableExpansion {
    public static func expand(_ input: String, _ lookup: (String) -> String?) -> String {
        let characters = Array(input)
        var output = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            guard character == "$", index + 1 < characters.count else {
                output.append(character)
                index += 1
                continue
            }
            let next = characters[index + 1]
            if next == "$" {
                output.append("$")
                index += 2
            } else if next == "(", let close = characters[(index + 2)...].firstIndex(of: ")") {
                let name = String(characters[(index + 2)..<close])
                output += lookup(name) ?? "$(\(name))"
                index = close + 1
            } else {
                // `$x`, or `$(` with no `)` after it: both characters stay as they are.
                output.append(character)
                output.append(next)
                index += 2
            }
        }
        return output
    }

    /// Expands against `NAME=value` entries (later ones win).
    public static func expand(_ input: String, environment: [String]) -> String {
        let map = Dictionary(environment.map { entry -> (String, String) in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { _, last in last })
        return expand(input) { map[$0] }
    }
}

/// What a container runs, as Kubernetes combines its `command` and `args` with the image's
/// ENTRYPOINT and CMD: `command` replaces the ENTRYPOINT and drops the CMD (then `args` are its
/// arguments); `args` alone replace the CMD; neither keeps both of the image's.
public struct ContainerCommand: Sendable, Equatable {
    /// The entrypoint to run instead of the image's; nil keeps the image's.
    public var entrypoint: [String]?
    /// The command (CMD) to run; empty keeps the image's, unless `entrypoint` is set.
    public var command: [String]

    public init(container: Container, environment: [String]) {
        let expand = { (items: [String]) in items.map { VariableExpansion.expand($0, environment: environment) } }
        let command = expand(container.command ?? [])
        let args = expand(container.args ?? [])
        if command.isEmpty {
            (entrypoint, self.command) = (nil, args)
        } else {
            // The engine drops the image's CMD whenever the entrypoint is given, as Docker does.
            (entrypoint, self.command) = (command, args)
        }
    }
}
