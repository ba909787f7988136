import BerthNetwork
import BerthRuntime
import BerthStore

/// What kind of failure an error is, in the Engine API's terms: each kind has dockerd's HTTP
/// status (moby's errdefs) and the CLI's exit status follows from it.
public enum ErrorKind: Sendable, Equatable {
    case invalidParameter
    case notFound
    case conflict
    case notModified
    case forbidden
    case unauthorized
    case unavailable
    case notImplemented
    case system

    public var httpStatus: Int {
        switch self {
        case .invalidParameter: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .notModified: 304
        case .notImplemented: 501
        case .unavailable: 503
        case .system: 500
        }
    }
}

/// An error from the service layer: a kind and a message a user can act on.
public struct EngineError: Error, CustomStringConvertible, Sendable, Equatable {
    public let kind: ErrorKind
    public let message: String

    public init(_ kind: ErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalidParameter(_ message: String) -> EngineError { EngineError(.invalidParameter, message) }
    public static func notFound(_ message: String) -> EngineError { EngineError(.notFound, message) }
    public static func conflict(_ message: String) -> EngineError { EngineError(.conflict, message) }

    /// The kind of any error the modules below throw, by its type and case rather than its text.
    public static func kind(of error: any Error) -> ErrorKind {
        switch error {
        case let error as EngineError: return error.kind
        // dockerd answers a command it cannot find or execute as a bad request.
        case let error as ContainerStartError: return error.reason == .other ? .system : .invalidParameter
        case let error as RuntimeError:
            switch error {
            case .noSuchContainer, .noSuchVolume: return .notFound
            case .nameInUse, .containerRunning, .volumeInUse, .ambiguousContainer: return .conflict
            case .invalidName, .noCommand, .invalidOption, .invalidVolumeName, .unknownRuntime: return .invalidParameter
            case .notRunning: return .conflict
            default: return .system
            }
        case let error as StoreError:
            switch error {
            case .noSuchImage: return .notFound
            case .conflict, .ambiguousImageID: return .conflict
            case .invalidArchive, .invalidImage, .unsafeLayer: return .invalidParameter
            default: return .system
            }
        case let error as NetworkError:
            switch error {
            case .unknownNetwork, .notConnected, .namespaceNotFound: return .notFound
            case .networkExists, .alreadyAttached, .ambiguousNetwork, .portAllocated: return .conflict
            case .invalidNetworkName, .invalidSubnet, .invalidGateway, .ipv6NotSupported, .invalidContainerID: return .invalidParameter
            case .predefinedNetwork, .networkInUse: return .forbidden
            default: return .system
            }
        default: return .system
        }
    }
}
