import ArgumentParser
import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore

/// Options of the commands that talk to a registry.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"), help: ArgumentHelp(
        "Require HTTPS and verify certificates (false also allows plain HTTP).", valueName: "bool"))
    var tlsVerify = true

    /// A session with the reference's registry, using the saved credentials for it. As Docker does,
    /// a config file that cannot be loaded is a warning: the transfer goes on without credentials.
    func client(for registry: String, scopes: [Scope]) throws -> RegistryClient {
        var credentials: Credentials?
        do {
            credentials = try CredentialStore.fromEnvironment().credentials(forRegistry: registry)
        } catch RegistryClientError.configFile(let path, let reason) {
            printError("WARNING: Error loading config file: \(path): \(reason)")
        }
        return RegistryClient(endpoint: RegistryEndpoint(registry: registry, tlsVerify: tlsVerify),
                              credentials: credentials, scopes: scopes)
    }
}
