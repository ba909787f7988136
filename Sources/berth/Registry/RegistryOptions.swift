import ArgumentParser
import BerthRegistryClient

/// Options of the commands that talk to a registry.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"), help: ArgumentHelp(
        "Require HTTPS and verify certificates (false also allows plain HTTP).", valueName: "bool"))
    var tlsVerify = true

    /// The saved credentials for `registry`, which the CLI hands the engine as the docker CLI
    /// hands dockerd `X-Registry-Auth`. As Docker does, a config file that cannot be loaded is a
    /// warning: the transfer goes on without credentials.
    func savedCredentials(for registry: String) throws -> Credentials? {
        try Self.savedCredentials(for: registry)
    }

    static func savedCredentials(for registry: String) throws -> Credentials? {
        do {
            return try CredentialStore.fromEnvironment().credentials(forRegistry: registry)
        } catch RegistryClientError.configFile(let path, let reason) {
            printError("WARNING: Error loading config file: \(path): \(reason)")
            return nil
        }
    }
}
