import BerthEngine
import BerthFiles
import BerthKubeAPI
import BerthTemplate
import Foundation
import Glibc

/// A pod's volumes on the node: made when the pod starts, mounted into its containers, kept up to
/// date while it runs, and released when it is removed. Each volume lives where the kubelet keeps
/// it, `<root>/kube/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`, except hostPath volumes and
/// claims, which are directories of their own.
public struct PodVolumes: Sendable {
    public enum Kind: String, Sendable {
        case emptyDir = "empty-dir"
        case configMap = "configmap"
        case secret
        case downwardAPI = "downward-api"
        case projected
        case hostPath = "host-path"
        case persistentVolumeClaim = "persistent-volume-claim"
    }

    /// One volume as set up on the host.
    public struct Prepared: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        /// The host directory (or, for a hostPath volume, the file) containers mount.
        public var path: String
        /// Mounted read-only whatever the container asks (API-object volumes, read-only claims).
        public var readOnly: Bool
        /// A memory-backed emptyDir: a tmpfs mounted at `path`.
        public var memory: Bool
    }

    public let volumes: [Prepared]
    /// `<root>/kube/pods/<uid>/volumes`.
    public let directory: String
    let specs: [Volume]
    let fsGroup: Int?

    /// Makes the pod's volumes: emptyDirs (tmpfs for `medium: Memory`), the files of configMap,
    /// secret, downwardAPI and projected volumes, checks of hostPath types, bound claims' directories.
    /// Safe to call again for a pod whose volumes exist (emptyDir content stays). Throws
    /// `PodVolumeError` (the pod waits in `ContainerCreating`).
    public static func prepare(pod: Pod, store: KubeObjectStore, engine: Engine, root: String) async throws -> PodVolumes {
        let directory = StateRoot(root).kubePodVolumes(uid: pod.metadata.uid ?? "")
        let specs = pod.spec.volumes ?? []
        let fsGroup = pod.spec.securityContext?.fsGroup
        let volumes = try await engine.blocking {
            let objects = PodObjectSource(store: store, namespace: pod.metadata.namespace ?? "default")
            let downwardAPI = DownwardAPI(pod: pod)
            return try specs.map { volume in
                try withVolumeError(volume.name) {
                    try prepare(volume, in: directory, pod: pod, fsGroup: fsGroup, objects: objects, downwardAPI: downwardAPI,
                                store: store)
                }
            }
        }
        return PodVolumes(volumes: volumes, directory: directory, specs: specs, fsGroup: fsGroup)
    }

    /// Rewrites the files of configMap, secret, downwardAPI and projected volumes from the objects'
    /// current state (and the pod's, for its labels and annotations), each volume in one atomic swap;
    /// answers the names of the volumes that changed. A volume whose object (or key) is missing now
    /// keeps its files as they are, as the kubelet keeps them, so the running pod is not disturbed.
    @discardableResult
    public func refresh(pod: Pod, store: KubeObjectStore, engine: Engine) async throws -> [String] {
        try await engine.blocking { [self] in
            let objects = PodObjectSource(store: store, namespace: pod.metadata.namespace ?? "default")
            let downwardAPI = DownwardAPI(pod: pod)
            var changed: [String] = []
            for (volume, prepared) in zip(specs, volumes) {
                guard let files = try? Self.files(of: volume, objects: objects, downwardAPI: downwardAPI) else { continue }
                if try AtomicVolumeWriter.write(files, to: prepared.path, fsGroup: fsGroup) { changed.append(volume.name) }
            }
            return changed
        }
    }

    /// Removes the pod's volumes at its removal: emptyDirs (memory ones unmounted) and the API-object
    /// volumes' files; hostPath directories and claims' data stay.
    public func release() async throws {
        try Self.remove(directory)
    }

    /// Releases the volumes of pods that are gone (removed while the daemon was down): each pod
    /// directory whose uid is not in `live` and that is older than `before` (so a pod being set up
    /// while the caller listed the live ones keeps its volumes).
    public static func releaseOrphans(root: String, live: Set<String>, before: Date) throws {
        let pods = StateRoot(root).kubePods
        for uid in (try? FileManager.default.contentsOfDirectory(atPath: pods)) ?? [] where !live.contains(uid) {
            let created = (try? FileManager.default.attributesOfItem(atPath: pods + "/" + uid)[.creationDate] as? Date) ?? .distantPast
            guard created < before else { continue }
            try remove(StateRoot(root).kubePodVolumes(uid: uid))
            try? FileManager.default.removeItem(atPath: pods + "/" + uid)
        }
    }

    /// Removes a pod's volumes directory, unmounting what is mounted under it (memory emptyDirs) first.
    private static func remove(_ directory: String) throws {
        for point in MountTable.mountPoints().filter({ $0.hasPrefix(directory + "/") }).sorted(by: >) { umount2(point, Int32(MNT_DETACH)) }
        if FileManager.default.fileExists(atPath: directory) { try FileManager.default.removeItem(atPath: directory) }
    }

    /// `--mount` specs for `container`'s `volumeMounts`, in order (subPaths made where missing);
    /// `environment` (`NAME=value`) is what a `subPathExpr` expands against.
    public func mounts(for container: Container, environment: [String] = []) throws -> [String] {
        try (container.volumeMounts ?? []).map { mount in
            guard let volume = volumes.first(where: { $0.name == mount.name }) else {
                throw PodSpecError.config("cannot find volume \"\(mount.name)\" to mount into container \"\(container.name)\"")
            }
            var source = volume.path
            let subPath = mount.subPathExpr.map { VariableExpansion.expand($0, environment: environment) } ?? mount.subPath
            if let subPath, !subPath.isEmpty { source = try Self.subPath(subPath, of: volume) }
            var spec = "type=bind,source=\(source),target=\(mount.mountPath)"
            if volume.readOnly || mount.readOnly == true { spec += ",readonly" }
            return spec
        }
    }

    // MARK: Setting up

    private static func prepare(_ volume: Volume, in directory: String, pod: Pod, fsGroup: Int?, objects: PodObjectSource,
                                downwardAPI: DownwardAPI, store: KubeObjectStore) throws -> Prepared {
        let manager = FileManager.default
        func path(_ kind: Kind) -> String { "\(directory)/kubernetes.io~\(kind.rawValue)/\(volume.name)" }
        if let emptyDir = volume.emptyDir {
            let target = path(.emptyDir)
            try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
            let memory = emptyDir.medium == "Memory"
            if memory, !isMountPoint(target) {
                var options = "mode=0777"
                if let limit = emptyDir.sizeLimit.flatMap(KubeQuantity.parsing), !limit.isZero { options += ",size=\(limit.value)" }
                guard mount("tmpfs", target, "tmpfs", UInt(MS_NOSUID | MS_NODEV), options) == 0 else { throw posixError("mount tmpfs", target) }
            }
            guard chmod(target, 0o777) == 0 else { throw posixError("chmod", target) }
            if let fsGroup { try VolumeOwnership.apply(group: fsGroup, to: target, readOnly: false, recursive: false) }
            return Prepared(name: volume.name, kind: .emptyDir, path: target, readOnly: false, memory: memory)
        }
        if let hostPath = volume.hostPath {
            try HostPathType.check(hostPath.path, type: hostPath.type ?? "")
            return Prepared(name: volume.name, kind: .hostPath, path: hostPath.path, readOnly: false, memory: false)
        }
        if let claim = volume.persistentVolumeClaim {
            let target = try PersistentVolumeProvisioner.claimPath(claim.claimName, namespace: pod.metadata.namespace ?? "default", store: store)
            if let fsGroup { try VolumeOwnership.apply(group: fsGroup, to: target, readOnly: false) }
            return Prepared(name: volume.name, kind: .persistentVolumeClaim, path: target, readOnly: claim.readOnly ?? false, memory: false)
        }
        let kind: Kind = volume.configMap != nil ? .configMap : volume.secret != nil ? .secret
            : volume.downwardAPI != nil ? .downwardAPI : .projected
        guard let files = try files(of: volume, objects: objects, downwardAPI: downwardAPI) else {
            throw PodVolumeError(volume: volume.name, "unsupported volume type")
        }
        let target = path(kind)
        try AtomicVolumeWriter.write(files, to: target, fsGroup: fsGroup)
        return Prepared(name: volume.name, kind: kind, path: target, readOnly: true, memory: false)
    }

    /// The files of an API-object volume (nil for other kinds). A missing optional source gives no files.
    static func files(of volume: Volume, objects: PodObjectSource, downwardAPI: DownwardAPI) throws -> [String: VolumeFile]? {
        let defaultFileMode = 0o644
        if let source = volume.configMap {
            return try configMapFiles(source, defaultMode: source.defaultMode ?? defaultFileMode, objects: objects)
        }
        if let source = volume.secret {
            return try secretFiles(source.secretName, items: source.items, optional: source.optional ?? false,
                                   defaultMode: source.defaultMode ?? defaultFileMode, objects: objects)
        }
        if let source = volume.downwardAPI {
            return try downwardAPIFiles(source, defaultMode: source.defaultMode ?? defaultFileMode, downwardAPI: downwardAPI)
        }
        if let source = volume.projected {
            let mode = source.defaultMode ?? defaultFileMode
            var files: [String: VolumeFile] = [:]
            for projection in source.sources ?? [] {
                if let configMap = projection.configMap {
                    files.merge(try configMapFiles(configMap, defaultMode: mode, objects: objects)) { _, new in new }
                }
                if let secret = projection.secret {
                    files.merge(try secretFiles(secret.name, items: secret.items, optional: secret.optional ?? false, defaultMode: mode,
                                                objects: objects)) { _, new in new }
                }
                if let downward = projection.downwardAPI {
                    files.merge(try downwardAPIFiles(downward, defaultMode: mode, downwardAPI: downwardAPI)) { _, new in new }
                }
            }
            return files
        }
        return nil
    }

    private static func configMapFiles(_ source: Volume.ConfigMapSource, defaultMode: Int, objects: PodObjectSource) throws -> [String: VolumeFile] {
        let name = source.name ?? ""
        guard let data = try objects.configMapData(name, optional: source.optional ?? false) else { return [:] }
        return try keyFiles(data, items: source.items, defaultMode: defaultMode, optional: source.optional ?? false) { key in
            "configmap references non-existent config key: \(key)"
        }
    }

    private static func secretFiles(_ name: String?, items: [Volume.KeyToPath]?, optional: Bool, defaultMode: Int,
                                    objects: PodObjectSource) throws -> [String: VolumeFile] {
        guard let data = try objects.secretData(name ?? "", optional: optional) else { return [:] }
        return try keyFiles(data, items: items, defaultMode: defaultMode, optional: optional) { key in
            "references non-existent secret key: \(key)"
        }
    }

    /// Every key as a file of its name, or just the `items`, each at its `path` with its `mode`.
    private static func keyFiles(_ data: [String: Data], items: [Volume.KeyToPath]?, defaultMode: Int, optional: Bool,
                                 missing: (String) -> String) throws -> [String: VolumeFile] {
        guard let items, !items.isEmpty else {
            return data.mapValues { VolumeFile(data: $0, mode: defaultMode) }
        }
        var files: [String: VolumeFile] = [:]
        for item in items {
            guard let value = data[item.key] else {
                if optional { continue }
                throw PodSpecError.config(missing(item.key))
            }
            files[item.path] = VolumeFile(data: value, mode: item.mode ?? defaultMode)
        }
        return files
    }

    private static func downwardAPIFiles(_ source: Volume.DownwardAPISource, defaultMode: Int, downwardAPI: DownwardAPI) throws -> [String: VolumeFile] {
        var files: [String: VolumeFile] = [:]
        for item in source.items ?? [] {
            let value: String
            if let field = item.fieldRef {
                value = try downwardAPI.value(fieldPath: field.fieldPath)
            } else if let resource = item.resourceFieldRef {
                value = try downwardAPI.value(resource: resource, container: nil)
            } else {
                continue
            }
            files[item.path] = VolumeFile(data: Data(value.utf8), mode: item.mode ?? defaultMode)
        }
        return files
    }

    /// The host path a `subPath` of `volume` names, made as a directory when missing (with the
    /// volume's mode, as the kubelet makes it); it must stay inside the volume.
    private static func subPath(_ subPath: String, of volume: Prepared) throws -> String {
        let components = subPath.split(separator: "/")
        guard !subPath.hasPrefix("/"), !components.contains("..") else {
            throw PodSpecError(.createContainerConfigError, "failed to prepare subPath for volumeMount \"\(volume.name)\": subPath \"\(subPath)\" must be a relative path without \"..\"")
        }
        let base = URL(fileURLWithPath: volume.path).resolvingSymlinksInPath().path
        var target = volume.path + "/" + subPath
        if !FileManager.default.fileExists(atPath: target) {
            var info = stat()
            let mode = stat(volume.path, &info) == 0 ? Int(info.st_mode & 0o7777) : 0o755
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: mode])
        }
        target = URL(fileURLWithPath: target).resolvingSymlinksInPath().path
        guard target == base || target.hasPrefix(base + "/") else {
            throw PodSpecError(.createContainerConfigError, "failed to prepare subPath for volumeMount \"\(volume.name)\": subPath \"\(subPath)\" leaves the volume")
        }
        return target
    }

    private static func isMountPoint(_ path: String) -> Bool {
        var info = stat()
        var parent = stat()
        guard stat(path, &info) == 0, stat((path as NSString).deletingLastPathComponent, &parent) == 0 else { return false }
        return info.st_dev != parent.st_dev
    }

    /// Runs `body`, reporting its failure as the volume's set-up failure.
    private static func withVolumeError<T>(_ volume: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PodVolumeError {
            throw error
        } catch let error as PodSpecError {
            throw PodVolumeError(volume: volume, error.message)
        } catch {
            throw PodVolumeError(volume: volume, "\(error.localizedDescription)")
        }
    }
}

extension DownwardAPI {
    /// The pod's facts as its status tells them (what a volume sees; it is refreshed as they change).
    init(pod: Pod) {
        self.init(pod: pod, podIPs: pod.status?.podIPs?.map(\.ip) ?? [pod.status?.podIP].compactMap { $0 },
                  hostIPs: [pod.status?.hostIP].compactMap { $0 })
    }
}

/// hostPath volumes' `type`: what must be at the path, or be made there.
enum HostPathType {
    static func check(_ path: String, type: String) throws {
        let manager = FileManager.default
        var info = stat()
        let exists = stat(path, &info) == 0
        let kind = info.st_mode & S_IFMT
        func fail(_ what: String) -> PodSpecError { PodSpecError.config("hostPath type check failed: \(path) is not \(what)") }
        switch type {
        case "":
            // No check; a missing path is made as a directory, as Docker makes a missing bind source.
            if !exists { try manager.createDirectory(atPath: path, withIntermediateDirectories: true) }
        case "DirectoryOrCreate":
            if !exists {
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            } else if kind != S_IFDIR {
                throw fail("a directory")
            }
        case "Directory":
            guard exists, kind == S_IFDIR else { throw fail("a directory") }
        case "FileOrCreate":
            if !exists {
                let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { throw posixError("open", path) }
                close(descriptor)
            } else if kind != S_IFREG {
                throw fail("a file")
            }
        case "File":
            guard exists, kind == S_IFREG else { throw fail("a file") }
        case "Socket":
            guard exists, kind == S_IFSOCK else { throw fail("a socket file") }
        case "CharDevice":
            guard exists, kind == S_IFCHR else { throw fail("a character device") }
        case "BlockDevice":
            guard exists, kind == S_IFBLK else { throw fail("a block device") }
        default:
            throw PodSpecError.config("invalid HostPathType: \(type)")
        }
    }
}
