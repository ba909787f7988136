import ArgumentParser
import BerthEngine
import BerthRuntime
import BerthStore
import Foundation

/// Options every command takes; `--root` may also come before the command name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("root"), help: ArgumentHelp(
        "Directory holding all of Berth's state (env BERTH_ROOT).", valueName: "dir"))
    var rootOption: String?

    /// The state root, made absolute so every path in an error names one place.
    var root: String {
        let root = rootOption ?? ProcessInfo.processInfo.environment["BERTH_ROOT"] ?? "/var/lib/berth"
        return root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
    }
}

extension GlobalOptions {
    /// The service layer on this root: every command is a front end over it.
    func openEngine() throws -> Engine {
        try Engine(root: root, monitorExecutable: Self.monitorExecutable())
    }
}

/// Runs `body`, reporting the engine's invalid parameters (bad filters, references, options) as
/// usage errors, as the commands reported them before they moved into the engine.
func usageErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as EngineError where error.kind == .invalidParameter {
        throw ValidationError(error.message)
    }
}

/// Writes to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes what the engine refused as the docker CLI writes a daemon's answer (which its client
/// trims: some of dockerd's messages end in a space).
func printDaemonError(_ error: any Error) {
    printError("Error response from daemon: " + "\(error)".trimmingCharacters(in: .whitespacesAndNewlines))
}

/// Docker's prune prompt: prints `warning` (ending in a space or a newline), then "Are you sure
/// you want to continue? [y/N] ", and reads the answer; true only for y or yes.
func confirm(_ warning: String) -> Bool {
    print(warning + "Are you sure you want to continue? [y/N] ", terminator: "")
    fflush(nil)
    guard let answer = readLine() else { return false }
    return ["y", "yes"].contains(answer.lowercased())
}

/// `key=value` flags (`--label`, `--opt`) as a dictionary; a bare key gets an empty value.
func keyValues(_ entries: [String]) -> [String: String] {
    var result: [String: String] = [:]
    for entry in entries {
        let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return result
}
