import BerthTemplate

/// Claims, volumes and nodes.
extension KubeKinds {
    static let accessModes = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]

    static func admitPersistentVolumeClaim(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = object.defaulting(["spec", "volumeMode"], .string("Filesystem"))
        for part in ["requests", "limits"] where object.has("spec", "resources", part) {
            object = object.setting(["spec", "resources", part], to: try canonicalQuantities(object.value(at: ["spec", "resources", part])))
        }
        return (object, claimSpecProblems(object["spec"] ?? .object([]), path: "spec"))
    }

    static func claimSpecProblems(_ spec: OrderedJSON, path: String) -> [Cause] {
        var causes: [Cause] = []
        let modes = spec.items("accessModes").compactMap { $0.string() }
        if modes.isEmpty { causes.append(required("\(path).accessModes", "at least 1 access mode is required")) }
        for mode in modes where !accessModes.contains(mode) {
            causes.append(unsupported("\(path).accessModes", mode, accessModes))
        }
        if !spec.has("resources", "requests", "storage") {
            causes.append(required("\(path).resources[storage]"))
        }
        return causes
    }

    static func admitPersistentVolume(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = object.defaulting(["spec", "persistentVolumeReclaimPolicy"], .string("Retain"))
            .defaulting(["spec", "volumeMode"], .string("Filesystem"))
        if object.has("spec", "capacity") {
            object = object.setting(["spec", "capacity"], to: try canonicalQuantities(object.value(at: ["spec", "capacity"])))
        }
        var causes: [Cause] = []
        let modes = object.items("spec", "accessModes").compactMap { $0.string() }
        if modes.isEmpty { causes.append(required("spec.accessModes")) }
        for mode in modes where !accessModes.contains(mode) {
            causes.append(unsupported("spec.accessModes", mode, accessModes))
        }
        if !object.has("spec", "capacity", "storage") { causes.append(required("spec.capacity")) }
        let sources = (object["spec"]?.members ?? []).map(\.0).filter { !["accessModes", "capacity", "claimRef", "mountOptions", "nodeAffinity",
                                                                            "persistentVolumeReclaimPolicy", "storageClassName", "volumeMode",
                                                                            "volumeAttributesClassName"].contains($0) }
        if sources.isEmpty { causes.append(required("spec", "must specify a volume type")) }
        if let policy = object.string("spec", "persistentVolumeReclaimPolicy"), !["Delete", "Recycle", "Retain"].contains(policy) {
            causes.append(unsupported("spec.persistentVolumeReclaimPolicy", policy, ["Delete", "Recycle", "Retain"]))
        }
        return (object, causes)
    }

    /// A node's allocatable defaults to its capacity; quantities are canonical.
    static func admitNode(_ object: OrderedJSON) throws(KubeAPIError) -> OrderedJSON {
        var object = object
        for part in ["capacity", "allocatable"] where object.has("status", part) {
            object = object.setting(["status", part], to: try canonicalQuantities(object.value(at: ["status", part])))
        }
        if let capacity = object.value(at: ["status", "capacity"]) { object = object.defaulting(["status", "allocatable"], capacity) }
        return object
    }
}
