import BerthNetwork
import Foundation

/// Networking through BerthNetwork: the container's new network namespace is attached between
/// `runc create` and `runc start`, and detached when the container stops or is removed.
extension ContainerRuntime {
    /// Parses `-p` specs as Docker does, so a bad one fails `create` before anything exists.
    public static func validatePublish(_ specs: [String]) throws {
        for spec in specs { _ = try PortMapping.parse(spec) }
    }

    func attachNetwork(_ record: ContainerRecord, pid: Int32) throws -> ContainerRecord.NetworkSettings {
        let ports = try record.hostConfig.publish.flatMap { try PortMapping.parse($0) }
        let namespace = "/proc/\(pid)/ns/net"
        let attachment = try NetworkManager(root: root).attach(
            containerID: record.id, networkNamespace: namespace, network: "bridge", ports: ports)
        var settings = ContainerRecord.NetworkSettings()
        settings.ipAddress = attachment.ipAddress
        settings.gateway = attachment.gateway
        settings.macAddress = attachment.macAddress
        settings.prefixLength = attachment.prefixLength
        settings.networkNamespace = namespace
        settings.ports = attachment.ports.map {
            ContainerRecord.PortBinding(containerPort: $0.containerPort, proto: $0.proto, hostIP: $0.hostIP,
                                        hostPort: $0.hostPort)
        }
        return settings
    }

    func detachNetwork(_ record: ContainerRecord) {
        guard record.hostConfig.networkMode == "bridge" else { return }
        try? NetworkManager(root: root).detach(containerID: record.id, networkNamespace: nil)
    }
}
