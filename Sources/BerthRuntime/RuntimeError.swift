import Glibc

/// Errors from running containers, phrased for the person at the terminal.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    case noSuchContainer(String)
    case ambiguousContainer(String)
    case nameInUse(name: String, id: String)
    case invalidName(String)
    case noCommand
    case invalidOption(String)
    case unknownUser(String)
    case unknownGroup(String)
    case unknownAdditionalGroup(String)
    case idOutOfRange
    case containerRunning(String)
    case notRunning(String)
    case runtime(String)
    case monitor(String)
    case startFailed(String)
    case io(operation: String, path: String, errno: Int32)
    case noSuchVolume(String)
    case execFailed(String)
    case invalidVolumeName(String)
    case volumeInUse(name: String, containers: [String])
    case unknownRuntime(String)

    public var description: String {
        switch self {
        case .noSuchContainer(let name): return "No such container: \(name)"
        case .unknownRuntime(let name):
            return "unknown or invalid runtime name: \(name) (Berth knows \(Runc.supported.joined(separator: ", ")))"
        case .ambiguousContainer(let prefix):
            return "multiple containers match \(prefix): give more characters of the ID or use the name"
        case .nameInUse(let name, let id):
            return "Conflict. The container name \"/\(name)\" is already in use by container \"\(id)\". "
                + "You have to remove (or rename) that container to be able to reuse that name."
        case .invalidName(let name):
            return "Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        case .noCommand: return "No command specified: give one after the image name or use --entrypoint"
        case .invalidOption(let why): return why
        case .unknownUser(let user): return "unable to find user \(user): no matching entries in passwd file"
        case .unknownGroup(let group): return "unable to find group \(group): no matching entries in group file"
        // dockerd 20.10's words for a `--group-add` name missing from /etc/group.
        case .unknownAdditionalGroup(let group): return "Unable to find group \(group): no matching entries in group file"
        case .idOutOfRange: return "uids and gids must be in range 0-2147483647"
        case .containerRunning(let id):
            return "cannot remove container \(id): container is running: stop the container before removing or force remove"
        case .notRunning(let id): return "Container \(id) is not running"
        case .runtime(let why): return "OCI runtime error: \(why)"
        case .monitor(let why): return "container monitor: \(why)"
        case .startFailed(let why): return "failed to start container: \(why)"
        case .execFailed(let why): return "OCI runtime exec failed: \(why): unknown"
        case .noSuchVolume(let name): return "get \(name): no such volume"
        case .invalidVolumeName(let name):
            return "create \(name): \"\(name)\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        case .volumeInUse(let name, let containers):
            return "remove \(name): volume is in use - [\(containers.joined(separator: ", "))]"
        case .io(let operation, let path, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    static func lastIO(_ operation: String, _ path: String) -> RuntimeError {
        .io(operation: operation, path: path, errno: errno)
    }
}
