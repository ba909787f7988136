import BerthOCI
import BerthRuntime

/// When `run` and `create` pull the container's image (Docker's `--pull`).
public enum PullPolicy: String, Sendable, CaseIterable {
    /// Pull first, even when the image is here.
    case always
    /// Pull only when no local image has the name (the docker CLI's default).
    case missing
    /// Never pull: a missing image fails the create with dockerd's "No such image".
    case never

    /// Parses `--pull`'s value; the message is the docker CLI's.
    public init(parsing text: String) throws {
        guard let policy = PullPolicy(rawValue: text) else {
            throw EngineError.invalidParameter(
                "invalid pull option: '\(text)': must be one of \"always\", \"missing\" or \"never\"")
        }
        self = policy
    }

    /// Parses build's `--pull`: Docker's bool (given bare, it reads `true`: always) or a policy.
    public init(buildFlag text: String?) throws {
        switch text {
        case nil, "false": self = .missing
        case "true": self = .always
        case let text?: try self.init(parsing: text)
        }
    }
}

extension Engine {
    /// Creates a container as `createContainer(_:)` does, pulling its image first as `policy`
    /// says, as the docker CLI's `run` and `create` do around dockerd's create (which itself
    /// never pulls: `POST /containers/create` of a missing image answers 404). `registry` gives
    /// the pull's credentials and TLS choice (its reference is the container's image).
    /// `missing` hears the image's name (`busybox:latest`) before a pull made because it is not
    /// here; `progress` hears the pull's messages.
    public func createContainer(_ options: ContainerCreateOptions, pull policy: PullPolicy, registry: PullOptions,
                                missing: @escaping @Sendable (String) -> Void,
                                progress: @escaping TransferProgressHandler) async throws -> ContainerRecord {
        var pullOptions = registry
        pullOptions.reference = options.image
        pullOptions.allTags = false
        // An image ID names no repository to pull from.
        let pullable = !options.image.hasPrefix("sha256:") && (try? Reference(parsing: options.image)) != nil
            && !Self.isImageID(options.image)
        if policy == .always, pullable { _ = try await pull(pullOptions, progress: progress) }
        do {
            return try await createContainer(options)
        } catch let error as EngineError where error.kind == .notFound && error.message.hasPrefix("No such image") {
            guard policy == .missing, pullable else { throw error }
            missing(Self.familiarImageName(options.image))
            _ = try await pull(pullOptions, progress: progress)
            return try await createContainer(options)
        }
    }

    /// A full hexadecimal image ID without its algorithm: `docker run <id>` never pulls.
    private static func isImageID(_ text: String) -> Bool {
        text.count == 64 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
