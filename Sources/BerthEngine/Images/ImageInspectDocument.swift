import BerthOCI
import BerthStore
import BerthTemplate

/// Which of the fields that dockerd's ImageInspect dropped over API versions a document carries.
public struct ImageInspectFields: Sendable, Equatable {
    /// `VirtualSize` (gone in API 1.44).
    public var virtualSize: Bool
    /// `Container` and `ContainerConfig` (gone in API 1.45).
    public var containerConfig: Bool
    /// `Descriptor`, the image's manifest descriptor (from API 1.48).
    public var descriptor: Bool

    public init(virtualSize: Bool, containerConfig: Bool, descriptor: Bool) {
        self.virtualSize = virtualSize
        self.containerConfig = containerConfig
        self.descriptor = descriptor
    }

    /// What `berth image inspect` prints.
    public static let cli = ImageInspectFields(virtualSize: true, containerConfig: true, descriptor: false)

    /// What dockerd answers for API version 1.`minor`.
    public static func api(minor: Int) -> ImageInspectFields {
        ImageInspectFields(virtualSize: minor < 44, containerConfig: minor < 45, descriptor: minor >= 48)
    }
}

/// The Docker Engine API's ImageInspect document for an image, field for field in Docker's order.
enum ImageInspectDocument {
    static func make(for image: ImageRecord, store: Store, fields: ImageInspectFields) throws -> OrderedJSON {
        let raw = try OrderedJSON.parse(store.configBytes(of: image))
        let config = try store.config(of: image)
        var members: [(String, OrderedJSON)] = [
            ("Id", .string(image.id.description)),
            ("RepoTags", .array(image.tags.map { .string($0.familiarString) })),
            ("RepoDigests", .array(image.repoDigests.map { .string($0.familiarString) })),
            ("Parent", .string("")),
            ("Comment", raw["comment"] ?? .string("")),
            ("Created", .string(config.created ?? "0001-01-01T00:00:00Z")),
        ]
        if fields.containerConfig {
            members += [("Container", raw["container"] ?? .string("")), ("ContainerConfig", containerConfig(raw["container_config"]))]
        }
        members += [
            ("DockerVersion", raw["docker_version"] ?? .string("")),
            ("Author", .string(config.author ?? "")),
            ("Config", containerConfig(raw["config"])),
            ("Architecture", .string(config.architecture)),
        ]
        if let variant = config.variant { members.append(("Variant", .string(variant))) }
        members += [("Os", .string(config.os)), ("Size", .int(image.size))]
        if fields.virtualSize { members.append(("VirtualSize", .int(image.size))) }
        members += [
            ("GraphDriver", graphDriver(config.rootfs.diffIDs, store: store)),
            ("RootFS", .object([
                ("Type", .string(config.rootfs.type)),
                ("Layers", .array(config.rootfs.diffIDs.map { .string($0.description) })),
            ])),
            ("Metadata", .object([("LastTagTime", .string(image.lastTagTime ?? "0001-01-01T00:00:00Z"))])),
        ]
        if fields.descriptor {
            let manifest = try store.manifest(of: image)
            let size = try store.content.read(image.manifestDigest).count
            members.append(("Descriptor", .object([
                ("mediaType", .string(manifest.mediaType ?? MediaType.ociManifest)),
                ("digest", .string(image.manifestDigest.description)),
                ("size", .int(Int64(size))),
            ])))
        }
        return .object(members)
    }

    /// overlay2's paths for the image as Docker lists them, pointing at Berth's snapshots: the top
    /// layer's unpacked tree is the upper and merged view (Berth keeps no separate merged mount
    /// or work directory for an image), the ones beneath it the lower directories, top first.
    static func graphDriver(_ diffIDs: [Digest], store: Store) -> OrderedJSON {
        let snapshots = ChainID.chain(diffIDs).map { store.stateRoot.snapshot($0.encoded) }
        guard let top = snapshots.last else { return .object([("Data", .null), ("Name", .string("overlay2"))]) }
        var data: [(String, OrderedJSON)] = []
        let lower = snapshots.dropLast().reversed().map { $0 + "/fs" }
        if !lower.isEmpty { data.append(("LowerDir", .string(lower.joined(separator: ":")))) }
        data += [("MergedDir", .string(top + "/fs")), ("UpperDir", .string(top + "/fs")), ("WorkDir", .string(top))]
        return .object([("Data", .object(data)), ("Name", .string("overlay2"))])
    }

    /// Docker's container.Config shape: fixed fields always present, optional ones only when set.
    static func containerConfig(_ raw: OrderedJSON?) -> OrderedJSON {
        let value = raw ?? .object([])
        func field(_ name: String, _ fallback: OrderedJSON) -> (String, OrderedJSON) { (name, value[name] ?? fallback) }
        var members: [(String, OrderedJSON)] = [
            field("Hostname", .string("")), field("Domainname", .string("")), field("User", .string("")),
            field("AttachStdin", .bool(false)), field("AttachStdout", .bool(false)), field("AttachStderr", .bool(false)),
        ]
        if let ports = value["ExposedPorts"], ports != .null { members.append(("ExposedPorts", ports)) }
        members += [field("Tty", .bool(false)), field("OpenStdin", .bool(false)), field("StdinOnce", .bool(false)),
                    field("Env", .null), field("Cmd", .null)]
        if let health = value["Healthcheck"], health != .null { members.append(("Healthcheck", health)) }
        if let escaped = value["ArgsEscaped"], escaped == .bool(true) { members.append(("ArgsEscaped", escaped)) }
        members += [field("Image", .string("")), field("Volumes", .null), field("WorkingDir", .string("")),
                    field("Entrypoint", .null), field("OnBuild", .null), field("Labels", .null)]
        for optional in ["StopSignal", "StopTimeout", "Shell"] {
            if let v = value[optional], v != .null { members.append((optional, v)) }
        }
        return .object(members)
    }
}
