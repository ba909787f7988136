/// Why a pod's container cannot be created yet, as the kubelet reports it: `reason` is the
/// container's `state.waiting.reason` and `message` its message (the kubelet's wording).
public struct PodSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// The container's configuration refers to something missing (a ConfigMap, a Secret, a key)
        /// or breaks a policy (`runAsNonRoot`).
        case createContainerConfigError = "CreateContainerConfigError"
        /// A pull failed.
        case errImagePull = "ErrImagePull"
        /// A pull failed recently; the next is not due yet.
        case imagePullBackOff = "ImagePullBackOff"
        /// The image is missing and the pull policy is `Never`.
        case errImageNeverPull = "ErrImageNeverPull"
        /// The image reference does not parse.
        case invalidImageName = "InvalidImageName"
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    static func config(_ message: String) -> PodSpecError { PodSpecError(.createContainerConfigError, message) }
}

/// Why a pod's volumes cannot be set up yet: the pod stays `ContainerCreating` and the kubelet
/// records a `FailedMount` warning with `message`.
public struct PodVolumeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var volume: String
    public var detail: String

    public init(volume: String, _ detail: String) {
        self.volume = volume
        self.detail = detail
    }

    /// The event's message, as the kubelet words it.
    public var message: String { "MountVolume.SetUp failed for volume \"\(volume)\" : \(detail)" }
    public var description: String { message }
}
