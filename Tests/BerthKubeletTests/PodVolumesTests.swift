import BerthEngine
import BerthKubeAPI
import BerthFiles
@testable import BerthKubelet
import BerthTemplate
import Foundation
import Glibc
import Testing

/// Pod volumes set up on a real state root: the files, their modes and the `..data` layout.
@Suite(.serialized) struct PodVolumesTests {
    let scratch: ScratchStore
    let root: String
    let engine: Engine

    init() throws {
        scratch = try ScratchStore()
        root = scratch.directory + "/root"
        engine = try Engine(root: root, monitorExecutable: "/bin/false")
        try scratch.create(KubeResourceRegistry.configMaps, "default",
                           #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"app.conf":"v=1\n","other":"o"}}"#)
        try scratch.create(KubeResourceRegistry.secrets, "default",
                           #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"type":"Opaque","data":{"password":"czNjcjN0"}}"#)
    }

    func pod(volumes: String, fsGroup: Int? = nil) throws -> Pod {
        let context = fsGroup.map { #""securityContext":{"fsGroup":\#($0)},"# } ?? ""
        return try decoded(#"""
            {"metadata":{"name":"web","namespace":"default","uid":"uid-\#(UUID().uuidString)","labels":{"app":"web","tier":"front"}},
             "spec":{\#(context)"containers":[{"name":"c"}],"volumes":\#(volumes)}}
            """#)
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// The file system type and options of the mount at `path`, from /proc/self/mounts.
    func mountEntry(_ path: String) throws -> MountEntry? {
        MountTable.entry(at: path)
    }

    func mode(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_mode & 0o7777) : -1
    }

    @Test func configMapSecretAndDownwardAPIFilesInTheDataLayout() async throws {
        defer { scratch.cleanUp() }
        let pod = try pod(volumes: #"""
            [{"name":"config","configMap":{"name":"cfg","items":[{"key":"app.conf","path":"conf/app.conf","mode":384}]}},
             {"name":"all","configMap":{"name":"cfg","defaultMode":420}},
             {"name":"secret","secret":{"secretName":"creds","defaultMode":256}},
             {"name":"info","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}},
                                                   {"path":"name","fieldRef":{"fieldPath":"metadata.name"}}]}},
             {"name":"both","projected":{"sources":[{"configMap":{"name":"cfg","items":[{"key":"other","path":"o"}]}},
                                                    {"secret":{"name":"creds"}}]}}]
            """#)
        let volumes = try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
        let base = "\(root)/kube/pods/\(pod.metadata.uid ?? "")/volumes"
        let config = "\(base)/kubernetes.io~configmap/config"
        #expect(try read(config + "/conf/app.conf") == "v=1\n")
        #expect(mode(config + "/conf/app.conf") == 0o600)
        let version = try FileManager.default.destinationOfSymbolicLink(atPath: config + "/..data")
        #expect(version.hasPrefix(".."))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: config + "/conf") == "..data/conf")
        #expect(try FileManager.default.contentsOfDirectory(atPath: config).sorted() == ["..data", version, "conf"].sorted())
        #expect(try read("\(base)/kubernetes.io~configmap/all/other") == "o")
        #expect(mode("\(base)/kubernetes.io~configmap/all/..data/other") == 0o644)
        #expect(try read("\(base)/kubernetes.io~secret/secret/password") == "s3cr3t")
        #expect(mode("\(base)/kubernetes.io~secret/secret/..data/password") == 0o400)
        #expect(try read("\(base)/kubernetes.io~downward-api/info/labels") == "app=\"web\"\ntier=\"front\"")
        #expect(try read("\(base)/kubernetes.io~downward-api/info/name") == "web")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(base)/kubernetes.io~projected/both/..data").sorted() == ["o", "password"])
        #expect(volumes.volumes.allSatisfy { $0.readOnly })
        try await volumes.release()
        #expect(!FileManager.default.fileExists(atPath: base))
    }

    @Test func anUpdatedConfigMapReplacesTheFilesInOneSwap() async throws {
        defer { scratch.cleanUp() }
        let pod = try pod(volumes: #"[{"name":"config","configMap":{"name":"cfg"}}]"#)
        let volumes = try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
        let directory = try #require(volumes.volumes.first).path
        let before = try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/..data")
        #expect(try await volumes.refresh(pod: pod, store: scratch.store, engine: engine) == [])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/..data") == before)

        let live = try scratch.store.get(KubeResourceRegistry.configMaps, namespace: "default", name: "cfg")
        _ = try scratch.store.replace(KubeResourceRegistry.configMaps, namespace: "default", name: "cfg",
                                      object: live.setting(["data"], to: .stringMap(["app.conf": "v=2\n", "new": "n"])))
        #expect(try await volumes.refresh(pod: pod, store: scratch.store, engine: engine) == ["config"])
        let after = try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/..data")
        #expect(after != before)
        #expect(try read(directory + "/app.conf") == "v=2\n")
        #expect(try read(directory + "/new") == "n")
        // The old version and the name that went are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["..data", after, "app.conf", "new"].sorted())
        try await volumes.release()
    }

    @Test func missingSourcesFailTheMountUnlessOptional() async throws {
        defer { scratch.cleanUp() }
        let missing = try pod(volumes: #"[{"name":"config","configMap":{"name":"nope"}}]"#)
        await #expect(throws: PodVolumeError(volume: "config", #"configmap "nope" not found"#)) {
            try await PodVolumes.prepare(pod: missing, store: scratch.store, engine: engine, root: root)
        }
        let missingKey = try pod(volumes: #"[{"name":"s","secret":{"secretName":"creds","items":[{"key":"x","path":"x"}]}}]"#)
        await #expect(throws: PodVolumeError(volume: "s", "references non-existent secret key: x")) {
            try await PodVolumes.prepare(pod: missingKey, store: scratch.store, engine: engine, root: root)
        }
        let optional = try pod(volumes: #"[{"name":"config","configMap":{"name":"nope","optional":true}}]"#)
        let volumes = try await PodVolumes.prepare(pod: optional, store: scratch.store, engine: engine, root: root)
        #expect(try FileManager.default.contentsOfDirectory(atPath: volumes.volumes[0].path + "/..data").isEmpty)
        try await volumes.release()
    }

    @Test func hostPathTypes() async throws {
        defer { scratch.cleanUp() }
        let host = scratch.directory + "/host"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: host + "/file", contents: Data())
        let cases: [(String, String?)] = [
            (#"{"path":"\#(host)/made","type":"DirectoryOrCreate"}"#, nil),
            (#"{"path":"\#(host)/touched","type":"FileOrCreate"}"#, nil),
            (#"{"path":"\#(host)/file","type":"File"}"#, nil),
            (#"{"path":"\#(host)","type":"Directory"}"#, nil),
            (#"{"path":"\#(host)/file","type":"Directory"}"#, "hostPath type check failed: \(host)/file is not a directory"),
            (#"{"path":"\#(host)/absent","type":"File"}"#, "hostPath type check failed: \(host)/absent is not a file"),
            (#"{"path":"\#(host)","type":"Socket"}"#, "hostPath type check failed: \(host) is not a socket file"),
            (#"{"path":"\#(host)/file","type":"DirectoryOrCreate"}"#, "hostPath type check failed: \(host)/file is not a directory"),
        ]
        for (source, failure) in cases {
            let pod = try pod(volumes: #"[{"name":"h","hostPath":\#(source)}]"#)
            if let failure {
                await #expect(throws: PodVolumeError(volume: "h", failure)) {
                    try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
                }
            } else {
                _ = try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
            }
        }
        var info = stat()
        #expect(stat(host + "/made", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
        #expect(stat(host + "/touched", &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
    }

    @Test func emptyDirsMountsAndFSGroup() async throws {
        defer { scratch.cleanUp() }
        let pod = try pod(volumes: #"""
            [{"name":"scratch","emptyDir":{}},{"name":"ram","emptyDir":{"medium":"Memory","sizeLimit":"8Mi"}},
             {"name":"config","configMap":{"name":"cfg"}}]
            """#, fsGroup: 2000)
        let volumes = try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
        let scratchDir = volumes.volumes[0].path
        var info = stat()
        #expect(stat(scratchDir, &info) == 0 && info.st_gid == 2000)
        #expect(mode(scratchDir) == 0o777 | Int(S_ISGID))
        #expect(stat(volumes.volumes[2].path + "/..data/app.conf", &info) == 0 && info.st_gid == 2000)
        #expect(mode(volumes.volumes[2].path + "/..data/app.conf") == 0o644)

        let ram = volumes.volumes[1]
        #expect(ram.memory)
        let mount = try #require(try mountEntry(ram.path))
        #expect(mount.type == "tmpfs")
        #expect(mount.options.contains("size=8192k"))
        // Setting up again keeps what is there.
        FileManager.default.createFile(atPath: scratchDir + "/kept", contents: Data("x".utf8))
        let again = try await PodVolumes.prepare(pod: pod, store: scratch.store, engine: engine, root: root)
        #expect(FileManager.default.fileExists(atPath: scratchDir + "/kept"))

        let container = try decoded(#"""
            {"name":"c","volumeMounts":[{"name":"scratch","mountPath":"/data","subPath":"sub/dir"},
                                        {"name":"config","mountPath":"/etc/app"},
                                        {"name":"config","mountPath":"/etc/app.conf","subPath":"app.conf"},
                                        {"name":"ram","mountPath":"/ram","readOnly":true}]}
            """#, as: Container.self)
        let mounts = try again.mounts(for: container)
        let config = volumes.volumes[2].path
        let version = try FileManager.default.destinationOfSymbolicLink(atPath: config + "/..data")
        let expected = [
            "type=bind,source=\(scratchDir)/sub/dir,target=/data",
            "type=bind,source=\(config),target=/etc/app,readonly",
            "type=bind,source=\(config)/\(version)/app.conf,target=/etc/app.conf,readonly",
            "type=bind,source=\(ram.path),target=/ram,readonly",
        ]
        #expect(mounts == expected)
        let expression = try decoded(#"{"name":"c","volumeMounts":[{"name":"scratch","mountPath":"/logs","subPathExpr":"logs/$(POD)"}]}"#,
                                     as: Container.self)
        #expect(try again.mounts(for: expression, environment: ["POD=web-1"]) == ["type=bind,source=\(scratchDir)/logs/web-1,target=/logs"])
        let escaping = try decoded(#"{"name":"c","volumeMounts":[{"name":"scratch","mountPath":"/x","subPath":"../up"}]}"#, as: Container.self)
        #expect(throws: PodSpecError.self) { try again.mounts(for: escaping) }
        try await again.release()
        let unmounted = try mountEntry(ram.path) == nil
        #expect(unmounted)
    }

    @Test func volumesOfPodsThatAreGoneAreReleased() async throws {
        defer { scratch.cleanUp() }
        let volumes = #"[{"name":"ram","emptyDir":{"medium":"Memory"}},{"name":"config","configMap":{"name":"cfg"}}]"#
        let gone = try await PodVolumes.prepare(pod: try pod(volumes: volumes), store: scratch.store, engine: engine, root: root)
        let live = try pod(volumes: volumes)
        let kept = try await PodVolumes.prepare(pod: live, store: scratch.store, engine: engine, root: root)
        try PodVolumes.releaseOrphans(root: root, live: [live.metadata.uid ?? ""], before: .now.addingTimeInterval(60))
        #expect(!FileManager.default.fileExists(atPath: gone.directory))
        let unmounted = try mountEntry(gone.volumes[0].path) == nil
        #expect(unmounted)
        #expect(FileManager.default.fileExists(atPath: kept.volumes[1].path + "/app.conf"))
        // A pod set up after the live ones were listed keeps its volumes.
        try PodVolumes.releaseOrphans(root: root, live: [], before: .distantPast)
        #expect(FileManager.default.fileExists(atPath: kept.volumes[1].path + "/app.conf"))
        try await kept.release()
        let released = try mountEntry(kept.volumes[0].path) == nil
        #expect(released)
    }
}
