import BerthEngine
import BerthKubeAPI
import BerthRuntime
import Foundation

/// `kubectl logs`: a pod container's log from the engine's log of its current (or, with
/// `previous`, its last terminated) instance, with the apiserver's messages when there is none.
extension Kubelet: KubePodLogSource {
    public func logs(_ request: KubePodLogRequest) throws -> AsyncStream<[UInt8]> {
        let object = try context.store.get(KubeResourceRegistry.pods, namespace: request.namespace, name: request.pod)
        let pod = try object.decode(Pod.self)
        let containers = (pod.spec.initContainers ?? []) + pod.spec.containers
        let name: String
        if let asked = request.container {
            guard containers.contains(where: { $0.name == asked }) else {
                throw KubeAPIError.badRequest("container \(asked) is not valid for pod \(request.pod)")
            }
            name = asked
        } else if pod.spec.containers.count == 1 {
            name = pod.spec.containers[0].name
        } else {
            throw KubeAPIError.badRequest("a container name must be specified for pod \(request.pod), choose one of: [\(pod.spec.containers.map(\.name).joined(separator: " "))]")
        }
        let records = try context.engine.listContainersNow(ContainerListOptions(all: true)).filter {
            $0.config.labels[PodContainerNaming.podUIDLabel] == pod.metadata.uid
        }
        let instances = PodWorker.instances(of: name, in: records)
        let chosen: ContainerRecord
        if request.previous {
            guard instances.count >= 2 else {
                throw KubeAPIError.badRequest("previous terminated container \"\(name)\" in pod \"\(request.pod)\" not found")
            }
            chosen = instances[instances.count - 2]
        } else {
            guard let latest = instances.last else {
                let isInit = pod.spec.initContainers?.contains { $0.name == name } ?? false
                let reason = isInit || (pod.status?.initContainerStatuses ?? []).isEmpty ? "ContainerCreating" : "PodInitializing"
                throw KubeAPIError.badRequest("container \"\(name)\" in pod \"\(request.pod)\" is waiting to start: \(reason)")
            }
            chosen = latest
        }
        let options = LogsOptions(follow: request.follow && !request.previous, since: request.since, timestamps: request.timestamps,
                                  tail: request.tailLines.map { max(0, $0) })
        let reader = try context.engine.logs(chosen.id, options)
        return Self.stream(reader, options: options, limit: request.limitBytes)
    }

    private static func stream(_ reader: sending ContainerLogReader, options: LogsOptions, limit: Int?) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let task = Task {
            var left = limit ?? Int.max
            try? await reader.run { entries in
                for entry in entries where left > 0 {
                    let line = options.line(entry)
                    continuation.yield(Array(line.prefix(left)))
                    left -= line.count
                }
                if left <= 0 { throw CancellationError() }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
