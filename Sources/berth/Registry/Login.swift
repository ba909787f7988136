import ArgumentParser
import BerthEngine
import BerthRegistryClient
import Foundation

/// `berth login`: checks credentials against a registry and saves them.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", abstract: "Authenticate to a registry.",
        discussion: "Defaults to Docker Hub if no server is specified. Credentials go to $BERTH_CONFIG, $DOCKER_CONFIG/config.json or ~/.docker/config.json.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions

    @Argument(help: ArgumentHelp("The registry (host[:port]).", valueName: "SERVER"))
    var server: String?

    @Option(name: .shortAndLong, help: "Username.")
    var username: String?

    @Option(name: .shortAndLong, help: "Password or Personal Access Token (PAT).")
    var password: String?

    @Flag(help: "Take the Password or Personal Access Token (PAT) from stdin.")
    var passwordStdin = false

    func run() async throws {
        if password != nil {
            printError("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
            if passwordStdin { throw ValidationError("--password and --password-stdin are mutually exclusive") }
        }
        if passwordStdin, username == nil { throw ValidationError("Must provide --username with --password-stdin") }
        let host = Self.registryHost(server)
        let store = CredentialStore.fromEnvironment()
        // Without a user name or password, Docker first tries what is saved for the registry.
        if username == nil, password == nil, !passwordStdin, let saved = try store.credentials(forRegistry: host) {
            print("Authenticating with existing credentials...")
            do {
                try await checkAccess(host, saved)
                print("Login Succeeded")
                return
            } catch {
                printError("Login did not succeed, error: \(error)")
            }
        }
        var user = username
        if user == nil {
            try requireTerminal()
            print("Username: ", terminator: "")
            fflush(nil)
            user = readLine()?.trimmingCharacters(in: .whitespaces)
        }
        var secret = password
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else if secret == nil {
            try requireTerminal()
            secret = getpass("Password: ").map { String(cString: $0) }
        }
        guard let user, !user.isEmpty else { throw ValidationError("Username is required") }
        guard let secret, !secret.isEmpty else { throw ValidationError("Error: Password Required") }
        let credentials = Credentials(username: user, password: secret)
        try await checkAccess(host, credentials)
        if try store.storesInFile(forRegistry: host) {
            printError("WARNING! Your password will be stored unencrypted in \(store.configPath).\n"
                       + "Configure a credential helper to remove this warning. See\n"
                       + "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n")
        }
        try store.store(credentials, forRegistry: host)
        print("Login Succeeded")
    }

    /// Fails as Docker does when a prompt would be needed but standard input is not a terminal.
    private func requireTerminal() throws {
        guard isatty(0) != 0 else {
            printError("Error: Cannot perform an interactive login from a non TTY device")
            throw ExitCode(1)
        }
    }

    /// Signs in to the registry with `credentials`; throws what the registry answered when it refuses.
    private func checkAccess(_ host: String, _ credentials: Credentials) async throws {
        _ = try await global.openEngine().login(server: host, credentials: credentials, tlsVerify: registry.tlsVerify)
    }

    /// The registry a SERVER argument names: `docker.io` by default, URLs reduced to host[:port].
    static func registryHost(_ server: String?) -> String {
        Engine.registryHost(server)
    }
}
