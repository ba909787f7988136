import BerthOCI
import Foundation

/// Runs CNI plugins, now only to tear down attachments that older Berth versions made through them
/// (records with `plugins`; new attachments are Berth's own, `BridgeLink` and `AddressLeases`), as
/// the CNI specification 1.0.0 describes: the plugin binary is executed with
/// the operation in `CNI_COMMAND`, the container's identity in `CNI_CONTAINERID`, `CNI_NETNS`,
/// `CNI_IFNAME`, the plugin directories in `CNI_PATH`, and the network configuration on stdin; it
/// prints its result (ADD) or an error object (`code`, `msg`, `details`) on stdout.
struct CNI {
    /// The CNI version Berth speaks to the plugins.
    static let version = "1.0.0"
    /// Where Debian's containernetworking-plugins installs the plugins, then the upstream default.
    static let defaultSearchPath = ["/usr/lib/cni", "/opt/cni/bin"]

    enum Operation: String {
        case add = "ADD"
        case del = "DEL"
        case check = "CHECK"
    }

    var searchPath: [String] = CNI.defaultSearchPath

    func locate(_ plugin: String) throws -> String {
        for directory in searchPath where FileManager.default.isExecutableFile(atPath: "\(directory)/\(plugin)") {
            return "\(directory)/\(plugin)"
        }
        throw NetworkError.pluginNotFound(plugin: plugin, searched: searchPath)
    }

    /// Executes the plugin named by the configuration's `type`; returns its result for ADD.
    @discardableResult
    func invoke(_ operation: Operation, config: JSONValue, containerID: String, networkNamespace: String,
                interface: String) throws -> JSONValue? {
        let plugin = config["type"]?.stringValue ?? ""
        let executable = try locate(plugin)
        let environment = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_COMMAND": operation.rawValue,
            "CNI_CONTAINERID": containerID,
            "CNI_NETNS": networkNamespace,
            "CNI_IFNAME": interface,
            "CNI_PATH": searchPath.joined(separator: ":"),
        ]
        let output = try Command.run(executable, [], environment: environment, input: try config.encoded())
        guard output.status == 0 else {
            throw NetworkError.pluginFailed(plugin: plugin, command: operation.rawValue,
                                            message: Self.errorMessage(output))
        }
        guard operation == .add else { return nil }
        do {
            return try JSONValue.decoded(from: output.stdout)
        } catch {
            throw NetworkError.pluginFailed(plugin: plugin, command: operation.rawValue,
                                            message: "unreadable result: \(output.stdoutText.prefix(200))")
        }
    }

    /// The plugin's error object as one line, falling back to its stderr.
    private static func errorMessage(_ output: Command.Output) -> String {
        if let error = try? JSONValue.decoded(from: output.stdout), let message = error["msg"]?.stringValue {
            let details = error["details"]?.stringValue ?? ""
            return details.isEmpty ? message : "\(message): \(details)"
        }
        let text = (output.stdoutText + output.stderrText).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "exit status \(output.status)" : text.replacingOccurrences(of: "\n", with: " ")
    }
}
