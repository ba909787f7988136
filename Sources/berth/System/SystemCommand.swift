import ArgumentParser

/// `berth system …`: the store as a whole.
struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system", abstract: "Manage Berth's state.", subcommands: [
            SystemDiskUsage.self, Events.self, Info.self, SystemPrune.self, SystemCheck.self, Serve.self,
        ])
}
