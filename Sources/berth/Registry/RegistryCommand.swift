import ArgumentParser
import BerthRegistryServer
import Foundation

/// `berth registry …`: run a private OCI registry.
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Run a private OCI registry.",
        subcommands: [RegistryServe.self, RegistryGC.self])
}

/// `berth registry serve`: every endpoint of the OCI distribution-spec v1.1 on filesystem storage.
struct RegistryServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve a registry until interrupted.",
        discussion: """
            Without --htpasswd and --config anyone may pull, push and delete. With --htpasswd, \
            clients authenticate with Basic credentials (bcrypt entries, `htpasswd -B`) and \
            anonymous clients get nothing unless the configuration grants it. One access line per \
            request goes to standard error.

            \(RegistryConfiguration.fileFormatHelp)
            """)

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port"))
    var addr = "127.0.0.1:5000"

    @Option(help: ArgumentHelp("Directory holding the registry's blobs, manifests and uploads.", valueName: "dir"))
    var root: String

    @Option(help: ArgumentHelp("YAML configuration: access rules, token service, upload expiry.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Users and bcrypt password hashes, as `htpasswd -B` writes them.", valueName: "file"))
    var htpasswd: String?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain; serves HTTPS.", valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    func run() async throws {
        let configuration = try RegistryConfiguration.load(
            address: addr, root: root, configFile: config, htpasswdFile: htpasswd, tlsCertificate: tlsCert, tlsKey: tlsKey)
        let server = try RegistryServer(configuration: configuration)
        let scheme = configuration.tls == nil ? "http" : "https"
        try await server.run(handleSignals: true) { port in
            printError("berth registry listening on \(scheme)://\(configuration.host):\(port) (root \(server.storage.root))")
        }
    }
}

/// `berth registry gc`: removes blobs no manifest refers to.
struct RegistryGC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Remove blobs that no manifest refers to.",
        discussion: "Refuses while `berth registry serve` runs on the same root: an upload in progress has blobs no manifest names yet.")

    @Option(help: ArgumentHelp("Directory holding the registry's storage.", valueName: "dir"))
    var root: String

    @Flag(help: "List what would be removed without removing it.")
    var dryRun = false

    func run() throws {
        let storage = try RegistryStorage(root: root)
        let collector = RegistryGarbageCollector(storage: storage)
        let report = try collector.collect(dryRun: dryRun) { removal in
            print("\(dryRun ? "would delete" : "deleted") blob \(removal.digest) (\(removal.size) bytes)")
        }
        let verb = dryRun ? "would remove" : "removed"
        print("\(report.kept) blobs referenced; \(verb) \(report.removed.count) blobs, \(report.removedBytes) bytes")
    }
}
