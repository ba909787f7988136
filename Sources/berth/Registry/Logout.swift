import ArgumentParser
import BerthRegistryClient

/// `berth logout`: forgets the saved credentials for a registry.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "Log out from a registry.",
        discussion: "Defaults to Docker Hub if no server is specified.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The registry (host[:port]).", valueName: "SERVER"))
    var server: String?

    func run() async throws {
        let host = Login.registryHost(server)
        let key = CredentialStore.serverKey(forRegistry: host)
        if try CredentialStore.fromEnvironment().erase(forRegistry: host) {
            print("Removing login credentials for \(key)")
        } else {
            print("Not logged in to \(key)")
        }
    }
}
