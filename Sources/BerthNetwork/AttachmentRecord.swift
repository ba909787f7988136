import Foundation

/// What `attach` did for one container, persisted at `<root>/network/<containerID>.json` before
/// and after every plugin call, so `detach` can replay the plugins' DEL after a crash.
struct AttachmentRecord: Codable {
    var containerID: String
    var network: BridgeNetwork
    var networkNamespace: String
    var namespaceIdentity: NamespaceIdentity?
    /// The container-side interface name.
    var interface: String
    /// The plugin configurations, in ADD order.
    var plugins: [JSONValue]
    /// How many plugins ADD was started for; DEL runs for exactly these, in reverse.
    var pluginsStarted: Int
    /// The latest plugin result: the chain's `prevResult` for the next ADD and for DEL.
    var result: JSONValue?
    var loopbackStarted: Bool
    /// The published ports with concrete host ports.
    var ports: [PortMapping]
    var attachment: NetworkAttachment?

    static func path(in directory: String, containerID: String) -> String {
        "\(directory)/\(containerID).json"
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
        let path = Self.path(in: directory, containerID: containerID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let temporary = "\(path).tmp"
        do {
            let data = try encoder.encode(self)
            let handle = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard handle >= 0 else { throw NetworkError.io(path: temporary, reason: String(cString: strerror(errno))) }
            defer { close(handle) }
            let written = data.withUnsafeBytes { write(handle, $0.baseAddress, $0.count) }
            guard written == data.count, fsync(handle) == 0 else {
                throw NetworkError.io(path: temporary, reason: String(cString: strerror(errno)))
            }
        }
        guard rename(temporary, path) == 0 else {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
