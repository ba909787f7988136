import BerthKubeAPI
@testable import BerthKubelet
import BerthTemplate
import Foundation
import Testing

/// The provisioner's reconcile against a scratch store: a claim gets its own bound volume, stays
/// while a pod uses it, and takes its volume and data with it when it goes.
@Suite struct PersistentVolumeProvisionerTests {
    let scratch: ScratchStore
    let provisioner: PersistentVolumeProvisioner
    let key = KubeObjectKey(namespace: "default", name: "data")

    init() throws {
        scratch = try ScratchStore()
        provisioner = PersistentVolumeProvisioner(store: scratch.store, root: scratch.directory + "/root")
    }

    func claim() throws -> OrderedJSON {
        try scratch.store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data")
    }

    func createClaim() throws {
        try scratch.create(KubeResourceRegistry.persistentVolumeClaims, "default", #"""
            {"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},
             "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"standard"}}
            """#)
    }

    @Test func aClaimIsBoundToAVolumeOfItsOwn() async throws {
        defer { scratch.cleanUp() }
        try createClaim()
        _ = try await provisioner.reconcile(key)
        let bound = try claim()
        let uid = try #require(bound.string("metadata", "uid"))
        #expect(bound.string("status", "phase") == "Bound")
        #expect(bound.string("spec", "volumeName") == "pvc-\(uid)")
        #expect(bound.value(at: ["metadata", "finalizers"]) == .array([.string("kubernetes.io/pvc-protection")]))
        #expect(bound.string("status", "capacity", "storage") == "1Gi")
        #expect(bound.string("metadata", "annotations", "pv.kubernetes.io/bind-completed") == "yes")

        let volume = try scratch.store.get(KubeResourceRegistry.persistentVolumes, namespace: nil, name: "pvc-\(uid)")
        #expect(volume.string("status", "phase") == "Bound")
        #expect(volume.string("spec", "claimRef", "uid") == uid)
        #expect(volume.string("spec", "claimRef", "name") == "data")
        #expect(volume.string("spec", "persistentVolumeReclaimPolicy") == "Delete")
        #expect(volume.string("spec", "storageClassName") == "standard")
        let path = try #require(volume.string("spec", "hostPath", "path"))
        #expect(path == scratch.directory + "/root/kube/volumes/pvc-\(uid)")
        #expect(try PersistentVolumeProvisioner.claimPath("data", namespace: "default", store: scratch.store) == path)

        // Reconciling again changes nothing.
        let version = bound.string("metadata", "resourceVersion")
        _ = try await provisioner.reconcile(key)
        #expect(try claim().string("metadata", "resourceVersion") == version)
    }

    @Test func aClaimInUseStaysUntilItsPodsAreDoneThenTakesItsVolume() async throws {
        defer { scratch.cleanUp() }
        try createClaim()
        _ = try await provisioner.reconcile(key)
        let uid = try #require(try claim().string("metadata", "uid"))
        let volumePath = try PersistentVolumeProvisioner.claimPath("data", namespace: "default", store: scratch.store)
        FileManager.default.createFile(atPath: volumePath + "/kept", contents: Data("x".utf8))
        var pod = try scratch.create(KubeResourceRegistry.pods, "default", #"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"user"},
             "spec":{"containers":[{"name":"c","image":"busybox:1"}],
                     "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"data"}}]}}
            """#)

        _ = try scratch.store.delete(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data")
        #expect(try claim().value(at: ["metadata", "deletionTimestamp"]) != nil)
        _ = try await provisioner.reconcile(key)
        #expect(try claim().value(at: ["metadata", "finalizers"]) == .array([.string("kubernetes.io/pvc-protection")]))
        #expect(throws: PodSpecError(.createContainerConfigError, "can't start pod because PVC default/data is being deleted")) {
            try PersistentVolumeProvisioner.claimPath("data", namespace: "default", store: scratch.store)
        }
        #expect(FileManager.default.fileExists(atPath: volumePath + "/kept"))

        pod = pod.setting(["status"], to: .object([("phase", .string("Succeeded"))]))
        _ = try scratch.store.replace(KubeResourceRegistry.pods, namespace: "default", name: "user", object: pod)
        _ = try await provisioner.reconcile(key)
        #expect(throws: KubeAPIError.self) { try claim() }
        _ = try await provisioner.reconcile(key)
        #expect(throws: KubeAPIError.self) {
            try scratch.store.get(KubeResourceRegistry.persistentVolumes, namespace: nil, name: "pvc-\(uid)")
        }
        #expect(!FileManager.default.fileExists(atPath: volumePath))
    }

    @Test func aRetainedVolumeIsReleased() async throws {
        defer { scratch.cleanUp() }
        try createClaim()
        _ = try await provisioner.reconcile(key)
        let name = try #require(try claim().string("spec", "volumeName"))
        let volume = try scratch.store.get(KubeResourceRegistry.persistentVolumes, namespace: nil, name: name)
        _ = try scratch.store.replace(KubeResourceRegistry.persistentVolumes, namespace: nil, name: name,
                                      object: volume.setting(["spec", "persistentVolumeReclaimPolicy"], to: .string("Retain")))
        _ = try scratch.store.delete(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data")
        _ = try await provisioner.reconcile(key)
        _ = try await provisioner.reconcile(key)
        let released = try scratch.store.get(KubeResourceRegistry.persistentVolumes, namespace: nil, name: name)
        #expect(released.string("status", "phase") == "Released")
        #expect(FileManager.default.fileExists(atPath: try #require(released.string("spec", "hostPath", "path"))))
    }

    @Test func anUnboundClaimKeepsItsPodWaiting() throws {
        defer { scratch.cleanUp() }
        try createClaim()
        #expect(throws: PodSpecError(.createContainerConfigError,
                                     #"PVC default/data has non-bound phase ("Pending") or empty pvc.Spec.VolumeName ("")"#)) {
            try PersistentVolumeProvisioner.claimPath("data", namespace: "default", store: scratch.store)
        }
        #expect(throws: PodSpecError(.createContainerConfigError, #"persistentvolumeclaim "nope" not found"#)) {
            try PersistentVolumeProvisioner.claimPath("nope", namespace: "default", store: scratch.store)
        }
    }
}
