import BerthFiles
import BerthKubeAPI
import BerthTemplate
import Foundation

/// The node's local volume provisioner and the claim-protection controller in one loop: every
/// PersistentVolumeClaim gets a PersistentVolume of its own (a directory under the state root,
/// `<root>/kube/volumes/pvc-<claim uid>`) bound to it both ways, so its data outlives the pods that
/// use it. A claim carries the `kubernetes.io/pvc-protection` finalizer, removed once it is being
/// deleted and no running pod uses it; a volume whose claim is gone is deleted with its data under
/// reclaim policy `Delete` (the provisioner's default) and becomes `Released` under `Retain`.
public struct PersistentVolumeProvisioner: KubeReconciler {
    public static let protectionFinalizer = "kubernetes.io/pvc-protection"
    /// The provisioner's name, as volumes and claims record it.
    public static let provisionerName = "berth.dev/local-path"

    let store: KubeObjectStore
    let root: String
    public let name = "persistentvolume-controller"

    public init(store: KubeObjectStore, root: String) {
        self.store = store
        self.root = root
    }

    public var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.persistentVolumeClaims),
         // A pod that stops using a claim may release its deletion.
         KubeTrigger(resource: KubeResourceRegistry.pods) { event in
             let namespace = event.object.string("metadata", "namespace") ?? ""
             return Self.claimNames(of: event.object).map { KubeObjectKey(namespace: namespace, name: $0) }
         },
         // A volume whose claim is gone is reclaimed, also after a restart.
         KubeTrigger(resource: KubeResourceRegistry.persistentVolumes) { event in
             guard let namespace = event.object.string("spec", "claimRef", "namespace"),
                   let name = event.object.string("spec", "claimRef", "name") else { return [] }
             return [KubeObjectKey(namespace: namespace, name: name)]
         }]
    }

    public func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let claim = try get(KubeResourceRegistry.persistentVolumeClaims, key.namespace, key.name)
        try reclaimVolumes(of: key, liveUID: claim?.string("metadata", "uid"))
        guard var claim else { return nil }
        var finalizers = (claim.value(at: ["metadata", "finalizers"])?.arrayItems ?? []).compactMap { $0.stringValue }
        if claim.value(at: ["metadata", "deletionTimestamp"]) != nil {
            guard finalizers.contains(Self.protectionFinalizer), try !inUse(key) else { return nil }
            finalizers.removeAll { $0 == Self.protectionFinalizer }
            claim = claim.setting(["metadata", "finalizers"], to: OrderedJSON.array(finalizers.map(OrderedJSON.string)))
            _ = try store.replace(KubeResourceRegistry.persistentVolumeClaims, namespace: key.namespace, name: key.name, object: claim)
            return nil
        }
        if !finalizers.contains(Self.protectionFinalizer) {
            finalizers.append(Self.protectionFinalizer)
            claim = claim.setting(["metadata", "finalizers"], to: OrderedJSON.array(finalizers.map(OrderedJSON.string)))
            claim = try store.replace(KubeResourceRegistry.persistentVolumeClaims, namespace: key.namespace, name: key.name, object: claim)
        }
        if claim.string("status", "phase") != "Bound" || (claim.string("spec", "volumeName") ?? "").isEmpty {
            try bind(claim, key)
        }
        return nil
    }

    /// The directory of the volume bound to the claim, for a pod's volume; a claim that is missing,
    /// not bound yet or being deleted throws (the pod waits).
    static func claimPath(_ claimName: String, namespace: String, store: KubeObjectStore) throws -> String {
        guard let claim = try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: namespace, name: claimName) else {
            throw PodSpecError.config("persistentvolumeclaim \"\(claimName)\" not found")
        }
        if claim.value(at: ["metadata", "deletionTimestamp"]) != nil {
            throw PodSpecError.config("can't start pod because PVC \(namespace)/\(claimName) is being deleted")
        }
        let phase = claim.string("status", "phase") ?? ""
        let volumeName = claim.string("spec", "volumeName") ?? ""
        guard phase == "Bound", !volumeName.isEmpty,
              let volume = try? store.get(KubeResourceRegistry.persistentVolumes, namespace: nil, name: volumeName),
              let path = volume.string("spec", "hostPath", "path") ?? volume.string("spec", "local", "path") else {
            throw PodSpecError.config("PVC \(namespace)/\(claimName) has non-bound phase (\"\(phase)\") or empty pvc.Spec.VolumeName (\"\(volumeName)\")")
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        return path
    }

    /// The claims a pod's volumes name.
    static func claimNames(of pod: OrderedJSON) -> [String] {
        (pod.value(at: ["spec", "volumes"])?.arrayItems ?? []).compactMap { $0.string("persistentVolumeClaim", "claimName") }
    }

    // MARK: Binding

    private func bind(_ claim: OrderedJSON, _ key: KubeObjectKey) throws {
        let uid = claim.string("metadata", "uid") ?? ""
        let volumeName = (claim.string("spec", "volumeName")).flatMap { $0.isEmpty ? nil : $0 } ?? "pvc-\(uid)"
        var volume = try get(KubeResourceRegistry.persistentVolumes, nil, volumeName)
        if volume == nil {
            let path = StateRoot(root).kubeVolumes + "/" + volumeName
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
            chmod(path, 0o777)
            volume = try store.create(KubeResourceRegistry.persistentVolumes, namespace: nil, object: provisioned(volumeName, path: path, for: claim))
        }
        guard var volume else { return }
        if volume.string("spec", "claimRef", "uid") == nil {
            volume = volume.setting(["spec", "claimRef"], to: claimReference(claim))
        } else if volume.string("spec", "claimRef", "uid") != uid {
            return
        }
        if volume.string("status", "phase") != "Bound" {
            volume = volume.setting(["status"], to: OrderedJSON.object([("phase", .string("Bound"))]))
            volume = try store.replace(KubeResourceRegistry.persistentVolumes, namespace: nil, name: volumeName, object: volume)
        }
        var bound = claim.setting(["spec", "volumeName"], to: OrderedJSON.string(volumeName))
        var annotations = claim.stringMap(at: ["metadata", "annotations"]) ?? [:]
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        if volume.string("metadata", "annotations", "pv.kubernetes.io/provisioned-by") != nil {
            annotations["volume.kubernetes.io/storage-provisioner"] = Self.provisionerName
            annotations["volume.beta.kubernetes.io/storage-provisioner"] = Self.provisionerName
        }
        bound = bound.setting(["metadata", "annotations"], to: OrderedJSON.stringMap(annotations))
        var status: [(String, OrderedJSON)] = [("phase", .string("Bound"))]
        if let modes = volume.value(at: ["spec", "accessModes"]) { status.append(("accessModes", modes)) }
        if let capacity = volume.value(at: ["spec", "capacity"]) { status.append(("capacity", capacity)) }
        bound = bound.setting(["status"], to: OrderedJSON.object(status))
        _ = try store.replace(KubeResourceRegistry.persistentVolumeClaims, namespace: key.namespace, name: key.name, object: bound)
    }

    private func provisioned(_ name: String, path: String, for claim: OrderedJSON) -> OrderedJSON {
        let storage = claim.string("spec", "resources", "requests", "storage") ?? "1Gi"
        var spec: [(String, OrderedJSON)] = [
            ("capacity", .object([("storage", .string(storage))])),
            ("accessModes", claim.value(at: ["spec", "accessModes"]) ?? .array([.string("ReadWriteOnce")])),
            ("claimRef", claimReference(claim)),
            ("persistentVolumeReclaimPolicy", .string("Delete")),
            ("volumeMode", .string(claim.string("spec", "volumeMode") ?? "Filesystem")),
            ("hostPath", .object([("path", .string(path)), ("type", .string("DirectoryOrCreate"))])),
        ]
        if let storageClass = claim.string("spec", "storageClassName") { spec.append(("storageClassName", .string(storageClass))) }
        return .object([
            ("apiVersion", .string("v1")), ("kind", .string("PersistentVolume")),
            ("metadata", .object([
                ("name", .string(name)),
                ("annotations", .object([("pv.kubernetes.io/provisioned-by", .string(Self.provisionerName))])),
            ])),
            ("spec", .object(spec)),
        ])
    }

    private func claimReference(_ claim: OrderedJSON) -> OrderedJSON {
        .object([
            ("kind", .string("PersistentVolumeClaim")), ("namespace", .string(claim.string("metadata", "namespace") ?? "")),
            ("name", .string(claim.string("metadata", "name") ?? "")), ("uid", .string(claim.string("metadata", "uid") ?? "")),
            ("apiVersion", .string("v1")), ("resourceVersion", .string(claim.string("metadata", "resourceVersion") ?? "")),
        ])
    }

    // MARK: Protection and reclaiming

    /// Whether a pod that has not finished names the claim.
    private func inUse(_ key: KubeObjectKey) throws -> Bool {
        try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items.contains { pod in
            !["Succeeded", "Failed"].contains(pod.string("status", "phase") ?? "") && Self.claimNames(of: pod).contains(key.name)
        }
    }

    /// Reclaims the volumes bound to `key`'s claim when that claim is gone (or is another claim of
    /// the same name now): `Delete` removes the volume and its data, `Retain` marks it `Released`.
    private func reclaimVolumes(of key: KubeObjectKey, liveUID: String?) throws {
        for volume in try store.list(KubeResourceRegistry.persistentVolumes, namespace: nil).items {
            guard volume.string("spec", "claimRef", "namespace") == key.namespace, volume.string("spec", "claimRef", "name") == key.name,
                  let boundUID = volume.string("spec", "claimRef", "uid"), boundUID != liveUID,
                  let name = volume.string("metadata", "name") else { continue }
            if volume.string("spec", "persistentVolumeReclaimPolicy") == "Delete" {
                if volume.string("metadata", "annotations", "pv.kubernetes.io/provisioned-by") == Self.provisionerName,
                   let path = volume.string("spec", "hostPath", "path"), path.hasPrefix(StateRoot(root).kubeVolumes + "/") {
                    try? FileManager.default.removeItem(atPath: path)
                }
                do {
                    _ = try store.delete(KubeResourceRegistry.persistentVolumes, namespace: nil, name: name)
                } catch let error as KubeAPIError where error.code == 404 {
                    continue
                }
            } else if volume.string("status", "phase") != "Released" {
                _ = try store.replace(KubeResourceRegistry.persistentVolumes, namespace: nil, name: name,
                                      object: volume.setting(["status", "phase"], to: OrderedJSON.string("Released")))
            }
        }
    }

    private func get(_ resource: KubeResource, _ namespace: String?, _ name: String) throws -> OrderedJSON? {
        do {
            return try store.get(resource, namespace: namespace?.isEmpty == true ? nil : namespace, name: name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
    }
}

extension OrderedJSON {
    var arrayItems: [OrderedJSON]? {
        guard case .array(let items) = self else { return nil }
        return items
    }

    var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }
}
