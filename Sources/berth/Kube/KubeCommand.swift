import ArgumentParser
import BerthFiles
import BerthKube
import Foundation
import Yams

/// `berth kube …`: the Kubernetes API that `berth serve` serves.
struct KubeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube", abstract: "Use the Kubernetes API of berth serve.",
        subcommands: [KubeConfigCommand.self, KubeGenerate.self])
}

/// `berth kube config [--merge]`: a kubeconfig whose `berth` context reaches `berth serve`'s
/// Kubernetes API as the admin user.
struct KubeConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Print a kubeconfig for berth serve's Kubernetes API.",
        discussion: """
            The kubeconfig has a cluster `berth`, a user `berth-admin` (a client certificate of \
            the group system:masters) and a context `berth`. With --merge, these entries are \
            written into the first file of $KUBECONFIG (default ~/.kube/config), replacing \
            entries of the same names and keeping the others, and `berth` becomes the current context.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Merge into the kubeconfig file instead of printing.")
    var merge = false

    @Option(name: .customLong("kube-port"), help: ArgumentHelp(
        "The port berth serve's Kubernetes API listens on (default: the one it last served on, else 6443).", valueName: "port"))
    var kubePort: Int?

    func run() throws {
        let root = StateRoot(global.root)
        let recorded = (try? String(contentsOfFile: root.kubeAPIPort, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let kubePort = kubePort ?? recorded ?? 6443
        let pki = KubePKI(directory: root.kubePKI)
        try pki.ensure()
        func base64(_ path: String) throws -> String {
            Data(try String(contentsOfFile: path, encoding: .utf8).utf8).base64EncodedString()
        }
        let cluster: [String: Any] = ["name": "berth", "cluster": [
            "server": "https://127.0.0.1:\(kubePort)", "certificate-authority-data": try base64(pki.caCertificatePath)]]
        let user: [String: Any] = ["name": "berth-admin", "user": [
            "client-certificate-data": try base64(pki.adminCertificatePath), "client-key-data": try base64(pki.adminKeyPath)]]
        let context: [String: Any] = ["name": "berth", "context": ["cluster": "berth", "user": "berth-admin", "namespace": "default"]]
        guard merge else {
            let config: [String: Any] = ["apiVersion": "v1", "kind": "Config", "clusters": [cluster], "users": [user],
                                         "contexts": [context], "current-context": "berth", "preferences": [String: Any]()]
            print(try Yams.dump(object: config, sortKeys: true), terminator: "")
            return
        }
        let path = Self.kubeconfigPath()
        var config: [String: Any] = ["apiVersion": "v1", "kind": "Config", "preferences": [String: Any]()]
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else {
                throw ValidationError("\(path) is not a kubeconfig (a YAML mapping)")
            }
            config = loaded
        }
        func replacing(_ list: String, _ entry: [String: Any]) -> [Any] {
            let name = entry["name"] as? String
            let others = (config[list] as? [Any] ?? []).filter { (($0 as? [String: Any])?["name"] as? String) != name }
            return others + [entry]
        }
        config["clusters"] = replacing("clusters", cluster)
        config["users"] = replacing("users", user)
        config["contexts"] = replacing("contexts", context)
        config["current-context"] = "berth"
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".berth-tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(try Yams.dump(object: config, sortKeys: true).utf8),
                                             attributes: [.posixPermissions: 0o600]), rename(temporary, path) == 0 else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        print("Merged the berth context into \(path) and made it the current context.")
    }

    /// The file kubectl reads first: the first entry of $KUBECONFIG, else ~/.kube/config.
    static func kubeconfigPath() -> String {
        if let variable = ProcessInfo.processInfo.environment["KUBECONFIG"],
           let first = variable.split(separator: ":").first(where: { !$0.isEmpty }) {
            return String(first)
        }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.kube/config"
    }
}
