import BerthEngine
import BerthKubeAPI
import BerthOCI
import BerthRegistryClient
import BerthTemplate
import Foundation
import Synchronization

/// A pod's container images, pulled as its `imagePullPolicy` says with its `imagePullSecrets`, as
/// the kubelet's image manager does: a failed pull is `ErrImagePull`, and until its back-off has
/// passed (10 s, doubling up to 5 min) the container waits with `ImagePullBackOff`.
public enum PodImages {
    /// Makes `container`'s image present, or throws a `PodSpecError` (`ErrImagePull`,
    /// `ImagePullBackOff`, `ErrImageNeverPull`, `InvalidImageName`) with the kubelet's message;
    /// `recorder` hears the kubelet's events (`Pulling`, `Pulled`, `Failed`, `BackOff`).
    public static func ensure(pod: Pod, container: Container, store: KubeObjectStore, engine: Engine,
                              recorder: KubeEventRecorder? = nil) async throws(PodSpecError) {
        let image = container.image ?? ""
        let event = { (type: KubeEventRecorder.EventType, reason: String, message: String) -> Void in
            recorder?.record(eventObject(pod), type, reason: reason, message: message, fieldPath: "spec.containers{\(container.name)}")
        }
        guard let reference = try? Reference(parsing: image) else {
            let message = "Failed to apply default image tag \"\(image)\": couldn't parse image name \"\(image)\": invalid reference format"
            event(.warning, "InspectFailed", message)
            throw PodSpecError(.invalidImageName, message)
        }
        let policy = container.imagePullPolicy ?? defaultPullPolicy(reference)
        let present = (try? engine.image(named: image)) != nil
        if present && policy != "Always" {
            event(.normal, "Pulled", "Container image \"\(image)\" already present on machine")
            return
        }
        if policy == "Never" {
            let message = "Container image \"\(image)\" is not present with pull policy of Never"
            event(.warning, "ErrImageNeverPull", message)
            throw PodSpecError(.errImageNeverPull, message)
        }
        let backOffKey = "\(pod.metadata.uid ?? "")/\(image)"
        if backOff.isWaiting(backOffKey) {
            event(.normal, "BackOff", "Back-off pulling image \"\(image)\"")
            throw PodSpecError(.imagePullBackOff, "Back-off pulling image \"\(image)\"")
        }
        event(.normal, "Pulling", "Pulling image \"\(image)\"")
        let started = ContinuousClock.now
        do {
            let keyring = try keyring(for: pod, store: store, event: event)
            try await pull(image, candidates: keyring.credentials(for: image), engine: engine)
        } catch {
            backOff.failed(backOffKey)
            let detail = (error as? EngineError)?.message ?? "\(error)"
            let message = "failed to pull and unpack image \"\(reference.withDefaultTag.description)\": \(detail)"
            event(.warning, "Failed", "Failed to pull image \"\(image)\": \(message)")
            throw PodSpecError(.errImagePull, message)
        }
        backOff.forget(backOffKey)
        // The kubelet prints the time rounded to milliseconds.
        let elapsed = ContinuousClock.now - started
        let seconds = Duration.milliseconds(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000).goDescription
        let size = (try? engine.image(named: image).size) ?? 0
        event(.normal, "Pulled", "Successfully pulled image \"\(image)\" in \(seconds) (\(seconds) including waiting). Image size: \(size) bytes.")
    }

    /// `Always` for an image with the `latest` tag or none (and no digest), else `IfNotPresent`,
    /// as the API server defaults `imagePullPolicy`.
    public static func defaultPullPolicy(_ reference: Reference) -> String {
        reference.digest == nil && (reference.tag ?? Reference.defaultTag) == Reference.defaultTag ? "Always" : "IfNotPresent"
    }

    /// The credentials of the pod's pull secrets; a missing one is reported and skipped, as the kubelet does.
    static func keyring(for pod: Pod, store: KubeObjectStore,
                        event: (KubeEventRecorder.EventType, String, String) -> Void) throws -> DockerConfigKeyring {
        var keyring = DockerConfigKeyring()
        var missing: [String] = []
        for reference in pod.spec.imagePullSecrets ?? [] {
            let name = reference.name ?? ""
            guard let secret = try? store.get(KubeResourceRegistry.secrets, namespace: pod.metadata.namespace ?? "default", name: name) else {
                missing.append(name)
                continue
            }
            let data = (secret.stringMap(at: ["data"]) ?? [:]).compactMapValues { Data(base64Encoded: $0) }
            try keyring.add(secretType: secret.string("type") ?? "", data: data)
        }
        if !missing.isEmpty {
            event(.warning, "FailedToRetrieveImagePullSecret",
                  "Unable to retrieve some image pull secrets (\(missing.joined(separator: ", "))); attempting to pull the image may not succeed.")
        }
        return keyring
    }

    /// Pulls with each matching credential in turn (anonymously when none match); the last failure stands.
    private static func pull(_ image: String, candidates: [Credentials], engine: Engine) async throws {
        var lastError: (any Error)?
        for credentials in candidates.isEmpty ? [nil] : candidates.map(Optional.some) {
            do {
                _ = try await engine.pull(PullOptions(reference: image, credentials: credentials)) { _ in }
                return
            } catch {
                lastError = error
            }
        }
        if let lastError { throw lastError }
    }

    /// The pod as an event's involved object.
    static func eventObject(_ pod: Pod) -> OrderedJSON {
        .object([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", .object([("name", .string(pod.metadata.name ?? "")), ("namespace", .string(pod.metadata.namespace ?? "")),
                                  ("uid", .string(pod.metadata.uid ?? "")), ("resourceVersion", .string(pod.metadata.resourceVersion ?? ""))])),
        ])
    }

    /// Keyed `<pod uid>/<image>`.
    static let backOff = KubeletBackOff()
}
