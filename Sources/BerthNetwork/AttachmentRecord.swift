import BerthOCI
import Foundation

/// What `attach` did for one container on one network, persisted at
/// `<root>/network/<containerID>@<network>.json` before each step runs and once it is complete,
/// so `detach` undoes whatever part ran, after a crash too.
///
/// Berth's own attachments record the host veth's name (chosen, and recorded, before the veth is
/// made), that an address lease was started and, once complete, the leased address; `plugins` is
/// empty. Records of older Berth versions list the CNI plugins they ran: their teardown replays the
/// plugins' DEL (`CNI`).
struct AttachmentRecord: Codable {
    var containerID: String
    var network: BridgeNetwork
    var networkNamespace: String
    var namespaceIdentity: NamespaceIdentity?
    /// The container-side interface name.
    var interface: String
    /// Older versions: the plugin configurations, in ADD order.
    var plugins: [JSONValue]
    /// Older versions: how many plugins ADD was started for; DEL runs for exactly these, in reverse.
    var pluginsStarted: Int
    /// Older versions: the latest plugin result, the chain's `prevResult` for the next ADD and for DEL.
    var result: JSONValue?
    /// Whether adding Berth's iptables rules was started; nil in records of older Berth versions,
    /// whose plugin chain (`firewall`, `portmap`) made the rules.
    var rulesStarted: Bool?
    /// Older versions: whether the loopback plugin's ADD was started.
    var loopbackStarted: Bool
    /// The published ports with concrete host ports.
    var ports: [PortMapping]
    var attachment: NetworkAttachment?
    /// The host end of the veth pair (`veth` + 8 hex digits); deleting it deletes the container's end.
    var hostVeth: String? = nil
    /// Whether leasing an address (`AddressLeases`) was started; the lease names the container.
    var leaseStarted: Bool? = nil
    /// The leased address, once the attachment is complete.
    var address: String? = nil
    /// Whether the container has a masquerade rule of its own; nil in records of versions that
    /// gave every container one (now the bridge's rule masquerades the whole subnet).
    var ownMasquerade: Bool? = nil

    static func path(in directory: String, containerID: String, network: String) -> String {
        "\(directory)/\(containerID)@\(network).json"
    }

    /// The container and network a record's file name names; `@` is in neither's alphabet.
    static func parse(fileName: String) -> (containerID: String, network: String)? {
        guard fileName.hasSuffix(".json") else { return nil }
        let parts = fileName.dropLast(5).split(separator: "@")
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    static func load(from path: String) throws -> AttachmentRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(AttachmentRecord.self, from: data)
        } catch {
            throw NetworkError.stateCorrupt(path: path, reason: "\(error)")
        }
    }

    /// Writes through a temporary file and rename, so a crash leaves the old or the new record.
    func save(in directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(self)
        } catch {
            throw NetworkError.io(path: directory, reason: "\(error)")
        }
        try StateFile.write(data, to: Self.path(in: directory, containerID: containerID, network: network.name), synced: false)
    }
}
