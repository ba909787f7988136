import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

extension Engine {
    /// `kube generate`: the manifests that run the given containers (by name or ID) as one pod on
    /// a Kubernetes cluster. Each container's image config is read so that what the image sets
    /// (entrypoint, command, environment, user) stays out of the manifests.
    public func kubeGenerate(_ references: [String], options: KubeGenerateOptions) async throws -> [OrderedJSON] {
        guard !references.isEmpty else { throw EngineError.invalidParameter("kube generate needs at least one container") }
        var sources: [KubeGenerateSource] = []
        for reference in references {
            let record = try await container(reference)
            let image = try await blocking { () -> ContainerConfig? in
                let store = try self.store()
                guard let image = try? store.image(named: record.imageID) else { return nil }
                return try store.config(of: image).config
            }
            var bindSourceIsDirectory: [String: Bool] = [:]
            for mount in record.mounts where mount.type == .bind {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: mount.source, isDirectory: &isDirectory) {
                    bindSourceIsDirectory[mount.source] = isDirectory.boolValue
                }
            }
            sources.append(KubeGenerateSource(container: record, image: image, bindSourceIsDirectory: bindSourceIsDirectory))
        }
        do {
            return try KubeManifestGenerator.documents(sources, options: options)
        } catch let failure as KubeManifestGenerator.Failure {
            throw EngineError.invalidParameter(failure.description)
        }
    }
}
