import BerthBuild
import BerthDockerfile
import BerthOCI
import BerthRuntime
import BerthStore
import Foundation

/// `commit` / `POST /commit`.
public struct CommitOptions: Sendable, Equatable {
    /// `REPOSITORY[:TAG]` to name the new image; nil leaves it untagged.
    public var reference: String?
    /// The history entry's comment (`-m`).
    public var comment: String?
    /// The image's author (`-a`).
    public var author: String?
    /// Pause a running container while its filesystem is read (`-p`, on by default).
    public var pause: Bool
    /// Dockerfile instructions applied to the image's config (`-c`): CMD, ENTRYPOINT, ENV,
    /// EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
    public var changes: [String]

    public init(reference: String? = nil, comment: String? = nil, author: String? = nil, pause: Bool = true,
                changes: [String] = []) {
        self.reference = reference
        self.comment = comment
        self.author = author
        self.pause = pause
        self.changes = changes
    }
}

extension Engine {
    /// Makes an image of a container, as dockerd's commit does: the image's layers plus one of
    /// what the container changed (none when it changed nothing), its config the container's
    /// (command, environment, user, working directory, labels, ports, health check) with the
    /// changes applied. Returns the new image's ID.
    public func commitContainer(_ reference: String, _ options: CommitOptions) async throws -> Digest {
        let tag = try Self.newImageTag(options.reference)
        let commands = try Self.configChanges(options.changes)
        let record = try await container(reference)
        let pausing = options.pause && record.state.status == .running
        if pausing { try await pauseContainer(record.id) }
        let result: (id: Digest, tag: Store.TagChange?)
        do {
            result = try await blocking { try self.commitNow(record, options, tag: tag, commands: commands) }
        } catch {
            if pausing { try? await unpauseContainer(record.id) }
            throw error
        }
        let id = result.id.description
        if let tag { events.record(.image, "tag", id: id, attributes: ["name": tag.withDefaultTag.familiarString]) }
        events.record(.container, "commit", id: record.id, attributes: record.eventAttributes([
            "comment": options.comment ?? "", "imageID": id, "imageRef": tag?.withDefaultTag.familiarString ?? "",
        ]))
        if pausing { try await unpauseContainer(record.id) }
        return result.id
    }

    private func commitNow(_ record: ContainerRecord, _ options: CommitOptions, tag: Reference?,
                           commands: [Command]) throws -> (id: Digest, tag: Store.TagChange?) {
        let store = try store()
        let parent: ImageRecord
        do {
            parent = try store.image(named: record.imageID)
        } catch StoreError.noSuchImage {
            throw EngineError.notFound("No such image: \(record.imageID)")
        }
        let changed = try runtime.changes(record.id)
        let skipping = Set(ContainerRuntime.initLayerPaths.map { String($0.dropFirst()) })
        var history = History(createdBy: record.config.cmd.joined(separator: " "), comment: options.comment)
        history.author = options.author
        return try store.commitImage(
            parent: parent, upperDirectory: runtime.containers.path(of: record.id) + "/upper", skipping: skipping,
            emptyLayer: changed.isEmpty, history: history, tag: tag
        ) { image in
            var config = image.config ?? ContainerConfig()
            let own = record.config
            config.User = own.user.isEmpty ? nil : own.user
            config.Env = own.env.isEmpty ? nil : own.env
            config.Entrypoint = own.entrypoint.isEmpty ? nil : own.entrypoint
            config.Cmd = own.cmd.isEmpty ? nil : own.cmd
            config.WorkingDir = own.workingDir.isEmpty ? nil : own.workingDir
            config.Labels = own.labels.isEmpty ? nil : own.labels
            if !own.exposedPorts.isEmpty {
                config.ExposedPorts = Dictionary(own.exposedPorts.map { ($0, EmptyObject()) }) { first, _ in first }
            }
            if let health = own.healthcheck { config.Healthcheck = health }
            for command in commands {
                let expanded = try command.expanded(with: ConfigChanges.environment(of: config), fileName: "--change")
                try ConfigChanges.apply(expanded, to: &config)
            }
            image.config = config
            image.author = options.author
            image.comment = options.comment
        }
    }
}

extension Engine {
    /// The tag a new image (commit, import) gets: none for an empty name; never a digest.
    static func newImageTag(_ name: String?) throws -> Reference? {
        guard let name, !name.isEmpty else { return nil }
        let tag = try parseReference(name)
        if tag.digest != nil { throw EngineError.invalidParameter("refusing to create a tag with a digest reference") }
        return tag
    }

    /// The `--change` instructions of a commit or an import, parsed before any work starts.
    static func configChanges(_ changes: [String]) throws -> [Command] {
        try changes.map { change in
            do {
                return try ConfigChanges.parseChange(change)
            } catch {
                throw EngineError.invalidParameter("\(error)")
            }
        }
    }
}
