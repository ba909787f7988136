import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation
import Glibc

/// `berth container …`: manage containers.
struct ContainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container",
        abstract: "Manage containers.",
        subcommands: [
            ContainerCreate.self, ContainerRun.self, ContainerStart.self, ContainerList.self, ContainerLogs.self,
            ContainerStop.self, ContainerKill.self, ContainerRestart.self, ContainerRemove.self, ContainerWait.self,
            ContainerInspect.self, ContainerRename.self, ContainerPort.self, ContainerPrune.self, ContainerExec.self, ContainerAttach.self, ContainerTop.self, ContainerStats.self,
            ContainerCopy.self, ContainerUpdate.self, ContainerPause.self, ContainerUnpause.self, ContainerDiff.self,
            ContainerExport.self, ContainerCommit.self,
        ]
    )
}

extension GlobalOptions {
    /// The container runtime on this root, with the `berth-monitor` installed next to this binary
    /// as the containers' monitor, once what killed builds left on the root is released.
    func openRuntime() throws -> ContainerRuntime {
        let runtime = try ContainerRuntime(root: root, monitorExecutable: Self.monitorExecutable())
        BuildStepRecord.releaseAbandoned(berthRoot: root)
        return runtime
    }

    /// `berth-monitor` in the directory of this very executable (/proc/self/exe, so symlinks to
    /// `berth` elsewhere still find it).
    static func monitorExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        let executable = length > 0
            ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : CommandLine.arguments[0]
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let monitor = (directory.isEmpty ? "." : directory) + "/berth-monitor"
        guard access(monitor, X_OK) == 0 else {
            printError("berth: \(monitor) is missing: install berth-monitor next to berth (it is built with it)")
            throw ExitCode(1)
        }
        return monitor
    }
}

/// Runs `body` for each container reference, printing each reference on success as Docker does,
/// and reporting failures on stderr; fails the command if any failed.
func forEachContainer(_ references: [String], printReference: Bool = true, _ body: (String) async throws -> Void) async throws {
    var failed = false
    for reference in references {
        do {
            try await body(reference)
            if printReference { print(reference) }
        } catch {
            printDaemonError(error)
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}

/// Runs `body`; the engine's "nothing to do" (starting a running container, stopping a stopped
/// one) is success, as the docker CLI takes dockerd's 304.
func notModifiedIsDone(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as EngineError where error.kind == .notModified {}
}

