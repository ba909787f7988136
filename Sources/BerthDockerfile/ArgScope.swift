/// Build arguments as Docker scopes them.
///
/// ARGs before the first FROM are global: FROM lines can use them. Inside a stage an ARG is
/// visible only after it is declared there; `ARG NAME` without a value takes the value from
/// `--build-arg` or else the global ARG of the same name. `--build-arg` values override
/// declared defaults. ENV values override ARG values of the same name. The proxy variables
/// are usable in every stage without a declaration, and the platform ARGs
/// (`TARGETPLATFORM`, `BUILDOS`, ...) are predefined in the global scope.
public struct ArgScope: Sendable {
    /// The proxy ARGs Docker passes through without an ARG declaration.
    public static let predefinedProxyArgs: Set<String> = [
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    ]

    /// The platform ARGs for a build on `build` producing `target` (each `os/arch[/variant]`).
    public static func platformArgs(build: String, target: String) -> [String: String] {
        func split(_ platform: String, prefix: String) -> [String: String] {
            let parts = platform.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            return [
                "\(prefix)PLATFORM": platform,
                "\(prefix)OS": parts.first ?? "",
                "\(prefix)ARCH": parts.count > 1 ? parts[1] : "",
                "\(prefix)VARIANT": parts.count > 2 ? parts[2] : "",
            ]
        }
        return split(build, prefix: "BUILD").merging(split(target, prefix: "TARGET")) { first, _ in first }
    }

    /// The escape character used when expanding values.
    public var escape: Character
    /// `--build-arg` values.
    public var buildArgs: [String: String]
    /// Values in the global scope: predefined platform ARGs and resolved meta ARGs.
    public private(set) var globals: [String: String]
    /// Names declared by meta ARGs (whether or not they got a value).
    public private(set) var declaredGlobals: Set<String>

    /// Resolves the meta ARGs in order: each sees the ones before it.
    public init(
        metaArgs: [ArgCommand], buildArgs: [String: String] = [:], platformArgs: [String: String] = [:],
        escape: Character = "\\", fileName: String = "Dockerfile"
    ) throws {
        self.escape = escape
        self.buildArgs = buildArgs
        self.globals = platformArgs
        self.declaredGlobals = Set(platformArgs.keys)
        let shell = ShellWordExpander(escape: escape)
        for arg in metaArgs {
            var resolved: [(String, String?)] = []
            for definition in arg.definitions {
                do {
                    let name = try shell.expand(definition.name, environment: globals)
                    if let value = buildArgs[name] {
                        resolved.append((name, value))
                    } else if let value = definition.defaultValue {
                        resolved.append((name, try shell.expand(value, environment: globals)))
                    } else {
                        resolved.append((name, globals[name]))
                    }
                } catch let error as ShellExpansionError {
                    throw DockerfileError(fileName: fileName, line: arg.instruction.startLine, message: error.message)
                }
            }
            for (name, value) in resolved {
                declaredGlobals.insert(name)
                globals[name] = value
            }
        }
    }

    /// The base image name and platform of a FROM, expanded with the global scope.
    public func resolve(_ from: FromCommand, fileName: String = "Dockerfile") throws -> (baseName: String, platform: String?) {
        let shell = ShellWordExpander(escape: escape)
        do {
            let base = try shell.expand(from.baseName, environment: globals)
            guard !base.isEmpty else {
                throw DockerfileError(
                    fileName: fileName, line: from.instruction.startLine,
                    message: "base name (\(from.baseName)) should not be blank")
            }
            return (base, try from.platform.map { try shell.expand($0, environment: globals) })
        } catch let error as ShellExpansionError {
            throw DockerfileError(fileName: fileName, line: from.instruction.startLine, message: error.message)
        }
    }

    /// A fresh scope for a stage whose base image has `imageEnvironment`.
    public func stageScope(imageEnvironment: [String: String] = [:]) -> StageScope {
        StageScope(global: self, env: imageEnvironment)
    }
}

/// The variables visible at one point inside a stage.
public struct StageScope: Sendable {
    let global: ArgScope
    /// ARGs declared in this stage so far (plus the predefined proxy ARGs given as build args).
    public private(set) var args: [String: String]
    /// ENV values: the base image's, then the stage's ENV instructions.
    public private(set) var env: [String: String]

    init(global: ArgScope, env: [String: String]) {
        self.global = global
        self.env = env
        self.args = global.buildArgs.filter { ArgScope.predefinedProxyArgs.contains($0.key) }
    }

    /// What word expansion sees: ARG values overridden by ENV values.
    public var environment: [String: String] { args.merging(env) { _, envValue in envValue } }

    /// Expands `command` with the current scope, then applies it to the scope when it is an
    /// ARG or ENV. Returns the expanded command.
    @discardableResult
    public mutating func apply(_ command: Command, fileName: String = "Dockerfile") throws -> Command {
        let expanded = try command.expanded(with: environment, escape: global.escape, fileName: fileName)
        switch expanded {
        case .arg(let arg):
            for definition in arg.definitions {
                if let value = global.buildArgs[definition.name] {
                    args[definition.name] = value
                } else if let value = definition.defaultValue {
                    args[definition.name] = value
                } else if let value = global.globals[definition.name] {
                    args[definition.name] = value
                } else {
                    args.removeValue(forKey: definition.name)
                }
            }
        case .env(let envCommand):
            for pair in envCommand.pairs { env[pair.key] = pair.value }
        default:
            break
        }
        return expanded
    }
}
