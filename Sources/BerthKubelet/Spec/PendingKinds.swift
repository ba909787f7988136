import BerthKubeAPI

/// The kinds the provisioner and the volumes read that `KubeResourceRegistry` does not name yet
/// (their registration comes with the API's PersistentVolume kinds, which replace this).
enum PendingKinds {
    private static func core(_ kind: String, _ plural: String, namespaced: Bool) -> KubeResource {
        var resource = KubeResourceRegistry.configMaps
        (resource.kind, resource.plural, resource.singular, resource.namespaced) = (kind, plural, kind.lowercased(), namespaced)
        (resource.shortNames, resource.hasGeneration) = ([], false)
        return resource
    }

    static let persistentVolumeClaims = core("PersistentVolumeClaim", "persistentvolumeclaims", namespaced: true)
    static let persistentVolumes = core("PersistentVolume", "persistentvolumes", namespaced: false)
    static let pods = core("Pod", "pods", namespaced: true)
}
