import BerthOCI
import BerthStore
import BerthTemplate

/// The Docker Engine API's ImageInspect document for an image, field for field in Docker's order.
enum ImageInspectJSON {
    static func document(for image: ImageRecord, store: Store) throws -> OrderedJSON {
        let raw = try OrderedJSON.parse(store.configBytes(of: image))
        let config = try store.config(of: image)
        return .object([
            ("Id", .string(image.id.description)),
            ("RepoTags", .array(image.tags.map { .string($0.familiarString) })),
            ("RepoDigests", .array(image.repoDigests.map { .string($0.familiarString) })),
            ("Parent", .string("")),
            ("Comment", raw["comment"] ?? .string("")),
            ("Created", .string(config.created ?? "0001-01-01T00:00:00Z")),
            ("Container", raw["container"] ?? .string("")),
            ("ContainerConfig", containerConfig(raw["container_config"])),
            ("DockerVersion", raw["docker_version"] ?? .string("")),
            ("Author", .string(config.author ?? "")),
            ("Config", containerConfig(raw["config"])),
            ("Architecture", .string(config.architecture)),
        ] + (config.variant.map { [("Variant", OrderedJSON.string($0))] } ?? []) + [
            ("Os", .string(config.os)),
            ("Size", .int(image.size)),
            ("VirtualSize", .int(image.size)),
            ("GraphDriver", .object([("Data", .null), ("Name", .string("overlay"))])),
            ("RootFS", .object([
                ("Type", .string(config.rootfs.type)),
                ("Layers", .array(config.rootfs.diffIDs.map { .string($0.description) })),
            ])),
            ("Metadata", .object([("LastTagTime", .string(image.lastTagTime ?? "0001-01-01T00:00:00Z"))])),
        ])
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
