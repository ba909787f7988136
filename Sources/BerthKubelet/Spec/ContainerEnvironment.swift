import BerthKubeAPI
import BerthTemplate
import Foundation

/// A container's environment as the kubelet builds it: `envFrom` sources first, in order, then
/// `env` (a later definition wins); `$(VAR)` references in `value`s see what is defined before them.
public struct ContainerEnvironment: Sendable, Equatable {
    /// `NAME=value`, each name once.
    public var entries: [String]
    /// `envFrom` keys left out because they are not valid variable names, with the kubelet's
    /// warning about them (reason `InvalidEnvironmentVariableNames`).
    public var warnings: [String]

    /// Resolves the environment; a missing ConfigMap, Secret or key that is not `optional` throws
    /// a `CreateContainerConfigError` with the kubelet's message.
    public init(container: Container, pod: Pod, objects: PodObjectSource, downwardAPI: DownwardAPI) throws {
        let namespace = pod.metadata.namespace ?? "default"
        var names: [String] = []
        var values: [String: String] = [:]
        func define(_ name: String, _ value: String) {
            if values.updateValue(value, forKey: name) == nil { names.append(name) }
        }
        var warnings: [String] = []
        for source in container.envFrom ?? [] {
            let data: [String: String]
            let description: String
            if let reference = source.configMapRef {
                guard let configMap = try objects.configMap(reference.name ?? "", optional: reference.optional ?? false) else { continue }
                (data, description) = (configMap, "configMap")
            } else if let reference = source.secretRef {
                guard let secret = try objects.secret(reference.name ?? "", optional: reference.optional ?? false) else { continue }
                (data, description) = (secret, "secret")
            } else {
                continue
            }
            var invalid: [String] = []
            for key in data.keys.sorted() {
                let name = (source.prefix ?? "") + key
                guard Self.isValidName(name) else {
                    invalid.append(name)
                    continue
                }
                define(name, data[key] ?? "")
            }
            if !invalid.isEmpty {
                let objectName = source.configMapRef?.name ?? source.secretRef?.name ?? ""
                warnings.append("Keys [\(invalid.joined(separator: ", "))] from the EnvFrom \(description) \(namespace)/\(objectName) were skipped since they are considered invalid environment variable names.")
            }
        }
        for variable in container.env ?? [] {
            if let value = variable.value, !value.isEmpty {
                define(variable.name, VariableExpansion.expand(value) { values[$0] })
                continue
            }
            guard let source = variable.valueFrom else {
                define(variable.name, "")
                continue
            }
            if let field = source.fieldRef {
                define(variable.name, try downwardAPI.value(fieldPath: field.fieldPath))
            } else if let resource = source.resourceFieldRef {
                define(variable.name, try downwardAPI.value(resource: resource, container: container))
            } else if let selector = source.configMapKeyRef {
                let optional = selector.optional ?? false
                guard let data = try objects.configMap(selector.name ?? "", optional: optional) else { continue }
                guard let value = data[selector.key] else {
                    if optional { continue }
                    throw PodSpecError.config("couldn't find key \(selector.key) in ConfigMap \(namespace)/\(selector.name ?? "")")
                }
                define(variable.name, value)
            } else if let selector = source.secretKeyRef {
                let optional = selector.optional ?? false
                guard let data = try objects.secret(selector.name ?? "", optional: optional) else { continue }
                guard let value = data[selector.key] else {
                    if optional { continue }
                    throw PodSpecError.config("couldn't find key \(selector.key) in Secret \(namespace)/\(selector.name ?? "")")
                }
                define(variable.name, value)
            }
        }
        entries = names.map { "\($0)=\(values[$0] ?? "")" }
        self.warnings = warnings
    }

    /// Printable ASCII but `=`, as Kubernetes 1.32 takes variable names (its relaxed rule, on by
    /// default since 1.32: a leading digit or a space is allowed).
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) && $0 != "=" }
    }
}

/// The ConfigMaps and Secrets of one pod's namespace, read once each while a container's
/// configuration or a pod's volumes are built (so every reference to one object sees one version).
public final class PodObjectSource {
    private let store: KubeObjectStore
    private let namespace: String
    private var configMaps: [String: [String: Data]?] = [:]
    private var secrets: [String: [String: Data]?] = [:]

    public init(store: KubeObjectStore, namespace: String) {
        self.store = store
        self.namespace = namespace
    }

    /// The ConfigMap's `data` and `binaryData`, nil when it is missing and `optional`. A missing
    /// one that is not optional throws the kubelet's `configmap "x" not found`.
    public func configMapData(_ name: String, optional: Bool) throws -> [String: Data]? {
        if configMaps[name] == nil {
            configMaps[name] = try fetch(KubeResourceRegistry.configMaps, name).map { object in
                var data = (object.stringMap(at: ["data"]) ?? [:]).mapValues { Data($0.utf8) }
                for (key, value) in object.stringMap(at: ["binaryData"]) ?? [:] { data[key] = Data(base64Encoded: value) ?? Data() }
                return data
            }
        }
        guard let data = configMaps[name] ?? nil else {
            if optional { return nil }
            throw PodSpecError.config("configmap \"\(name)\" not found")
        }
        return data
    }

    /// The Secret's `data`, decoded; missing as for `configMapData`, with `secret "x" not found`.
    public func secretData(_ name: String, optional: Bool) throws -> [String: Data]? {
        if secrets[name] == nil {
            secrets[name] = try fetch(KubeResourceRegistry.secrets, name).map { object in
                (object.stringMap(at: ["data"]) ?? [:]).mapValues { Data(base64Encoded: $0) ?? Data() }
            }
        }
        guard let data = secrets[name] ?? nil else {
            if optional { return nil }
            throw PodSpecError.config("secret \"\(name)\" not found")
        }
        return data
    }

    /// The ConfigMap's values as text (env), nil as for `configMapData`.
    func configMap(_ name: String, optional: Bool) throws -> [String: String]? {
        try configMapData(name, optional: optional)?.mapValues { String(decoding: $0, as: UTF8.self) }
    }

    /// The Secret's values as text (env), nil as for `secretData`.
    func secret(_ name: String, optional: Bool) throws -> [String: String]? {
        try secretData(name, optional: optional)?.mapValues { String(decoding: $0, as: UTF8.self) }
    }

    private func fetch(_ resource: KubeResource, _ name: String) throws -> OrderedJSON? {
        do {
            return try store.get(resource, namespace: namespace, name: name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
    }
}
