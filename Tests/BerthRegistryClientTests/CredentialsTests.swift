import BerthRegistryClient
import Foundation
import Testing

/// A fresh directory under /tmp, removed by the caller.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "berth-registry-client-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct CredentialsTests {
    @Test func authsRoundTripKeepsOtherKeys() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/config.json"
        try Data(#"{"psFormat":"table {{.ID}}","auths":{"other.example:5000":{"auth":"YTpi"}}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let store = CredentialStore(configPath: path, searchPath: directory)

        try store.store(Credentials(username: "alice", password: "s3cret:with:colons"), forRegistry: "localhost:5000")
        #expect(try store.credentials(forRegistry: "localhost:5000") == Credentials(username: "alice", password: "s3cret:with:colons"))
        #expect(try store.credentials(forRegistry: "other.example:5000") == Credentials(username: "a", password: "b"))
        #expect(try store.credentials(forRegistry: "nowhere.example") == nil)

        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        #expect(object?["psFormat"] as? String == "table {{.ID}}")
        let auths = object?["auths"] as? [String: [String: String]]
        #expect(auths?["localhost:5000"]?["auth"] == Data("alice:s3cret:with:colons".utf8).base64EncodedString())
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)

        #expect(try store.erase(forRegistry: "localhost:5000"))
        #expect(try store.credentials(forRegistry: "localhost:5000") == nil)
        #expect(try !store.erase(forRegistry: "localhost:5000"))
    }

    @Test func dockerHubUsesTheLegacyKey() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CredentialStore(configPath: directory + "/sub/config.json", searchPath: directory)
        try store.store(Credentials(username: "bob", password: "pw"), forRegistry: "docker.io")
        let text = try String(contentsOfFile: directory + "/sub/config.json", encoding: .utf8)
        #expect(text.contains("\"https://index.docker.io/v1/\""))
        #expect(try store.credentials(forRegistry: "registry-1.docker.io") == Credentials(username: "bob", password: "pw"))
    }

    @Test func configFromEnvironment() {
        #expect(CredentialStore.fromEnvironment(["BERTH_CONFIG": "/x/c.json", "HOME": "/h"]).configPath == "/x/c.json")
        #expect(CredentialStore.fromEnvironment(["HOME": "/h"]).configPath == "/h/.docker/config.json")
        #expect(CredentialStore.fromEnvironment(["DOCKER_CONFIG": "/d", "HOME": "/h"]).configPath == "/d/config.json")
        #expect(CredentialStore.fromEnvironment(["BERTH_CONFIG": "/x/c.json", "DOCKER_CONFIG": "/d"]).configPath == "/x/c.json")
    }

    @Test func malformedConfigIsAOneLineError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/config.json"
        try Data("[1,2".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: RegistryClientError.configFile(path: path, reason: "not a JSON object")) {
            try CredentialStore(configPath: path).credentials(forRegistry: "localhost:5000")
        }
    }

    /// A helper speaking Docker's protocol, keeping one credential per server in files.
    private func writeHelper(in directory: String, name: String) throws {
        let script = """
            #!/bin/sh
            dir=\(directory)/helper-state
            mkdir -p "$dir"
            read -r input || true
            case "$1" in
            get)
                key=$(printf %s "$input" | tr -c 'a-zA-Z0-9' _)
                [ -f "$dir/$key" ] || { echo "credentials not found in native keychain"; exit 1; }
                cat "$dir/$key" ;;
            store)
                server=$(printf %s "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/')
                key=$(printf %s "$server" | tr -c 'a-zA-Z0-9' _)
                printf %s "$input" >"$dir/$key" ;;
            erase)
                key=$(printf %s "$input" | tr -c 'a-zA-Z0-9' _)
                [ -f "$dir/$key" ] || { echo "credentials not found in native keychain"; exit 1; }
                rm "$dir/$key" ;;
            *) exit 2 ;;
            esac
            """
        let path = "\(directory)/docker-credential-\(name)"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    @Test func credsStoreHelperHoldsTheSecret() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeHelper(in: directory, name: "berthtest")
        let path = directory + "/config.json"
        try Data(#"{"credsStore":"berthtest"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let store = CredentialStore(configPath: path, searchPath: directory)

        try store.store(Credentials(username: "carol", password: "pa ss\"word"), forRegistry: "localhost:5000")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("auth\""), "the secret stays out of config.json")
        #expect(text.contains("localhost:5000"))
        #expect(FileManager.default.fileExists(atPath: directory + "/helper-state/localhost_5000"))
        #expect(try store.credentials(forRegistry: "localhost:5000") == Credentials(username: "carol", password: "pa ss\"word"))
        #expect(try store.credentials(forRegistry: "elsewhere:1") == nil)

        #expect(try store.erase(forRegistry: "localhost:5000"))
        #expect(try store.credentials(forRegistry: "localhost:5000") == nil)
    }

    @Test func credHelpersPerRegistryWinOverAuths() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeHelper(in: directory, name: "perhost")
        let path = directory + "/config.json"
        try Data(#"{"credHelpers":{"registry.example":"perhost"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let store = CredentialStore(configPath: path, searchPath: directory)
        try store.store(Credentials(username: "dave", password: "x"), forRegistry: "registry.example")
        try store.store(Credentials(username: "erin", password: "y"), forRegistry: "plain.example")
        #expect(FileManager.default.fileExists(atPath: directory + "/helper-state/registry_example"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/helper-state/plain_example"))
        #expect(try store.credentials(forRegistry: "registry.example")?.username == "dave")
        #expect(try store.credentials(forRegistry: "plain.example")?.username == "erin")
    }

    @Test func loopbackRegistriesAreInsecure() {
        #expect(RegistryEndpoint(registry: "localhost:5000").verifiesTLS == false)
        #expect(RegistryEndpoint(registry: "127.0.0.1:5000").verifiesTLS == false)
        #expect(RegistryEndpoint(registry: "127.1.2.3").verifiesTLS == false)
        #expect(RegistryEndpoint(registry: "[::1]:5000").verifiesTLS == false)
        #expect(RegistryEndpoint(registry: "registry.example:5000").verifiesTLS)
        #expect(RegistryEndpoint(registry: "128.0.0.1").verifiesTLS)
        #expect(RegistryEndpoint(registry: "registry.example:5000", tlsVerify: false).verifiesTLS == false)
        #expect(RegistryEndpoint(registry: "docker.io").host == "registry-1.docker.io")
    }
}
