import Foundation
import Testing

@testable import BerthRuntime

@Suite struct MountParserTests {
    @Test func volumeFlagForms() throws {
        let bind = try MountParser.parseVolumeFlag("/srv/data/:/data:ro")
        #expect(bind == MountPoint(type: .bind, source: "/srv/data", destination: "/data", mode: "ro", readWrite: false,
                                   propagation: "rprivate"))
        let named = try MountParser.parseVolumeFlag("cache:/var/cache")
        #expect(named.type == .volume && named.name == "cache" && !named.anonymous && named.readWrite)
        let anonymous = try MountParser.parseVolumeFlag("/scratch")
        #expect(anonymous.type == .volume && anonymous.anonymous && anonymous.destination == "/scratch")
        // Two parts are always source and destination: `/scratch:ro` names `ro` as the destination.
        #expect(throws: RuntimeError.self) { try MountParser.parseVolumeFlag("/scratch:ro") }
        #expect(try MountParser.parseVolumeFlag("v1:/x:nocopy").noCopy)
        #expect(try MountParser.parseVolumeFlag("/a:/b:rshared").propagation == "rshared")
    }

    @Test(arguments: [
        ("", "invalid volume specification: ''"),
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        ("data:relative", "invalid volume specification: 'data:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute"),
        ("/a:/", "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"),
        ("/a:/b:bogus", "invalid mode: bogus"),
        ("a:/b", "create a: \"a\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
    ])
    func volumeFlagErrors(spec: String, message: String) {
        let error = #expect(throws: RuntimeError.self) { try MountParser.parseVolumeFlag(spec) }
        #expect(error?.description == message)
    }

    @Test func mountFlag() throws {
        let bind = try MountParser.parseMountFlag("type=bind,source=/tmp,target=/host,readonly")
        #expect(bind == MountPoint(type: .bind, source: "/tmp", destination: "/host", readWrite: false, propagation: "rprivate"))
        let volume = try MountParser.parseMountFlag("type=volume,src=cache,dst=/cache,volume-nocopy")
        #expect(volume.type == .volume && volume.name == "cache" && volume.noCopy)
        let tmpfs = try MountParser.parseMountFlag("type=tmpfs,target=/run/x,tmpfs-size=1m,tmpfs-mode=1770")
        #expect(tmpfs.tmpfsOptions == ["size=1m", "mode=1770"])
        #expect(MountParser.tmpfsMountOptions(tmpfs) == ["nosuid", "nodev", "noexec", "rw", "size=1m", "mode=1770"])
        for bad in ["source=/a,target=/b", "type=nfs,target=/b", "type=bind,target=/b", "type=bind,source=rel,target=/b",
                    "type=tmpfs,source=/a,target=/b", "type=bind,source=/a", "type=bind,source=/a,target=/b,colour=red"] {
            #expect(throws: RuntimeError.self) { try MountParser.parseMountFlag(bad) }
        }
    }

    @Test func tmpfsFlag() throws {
        let mount = try MountParser.parseTmpfsFlag("/run:rw,size=64m")
        #expect(mount.destination == "/run" && mount.fromTmpfsFlag && mount.tmpfsOptions == ["size=64m"])
        #expect(throws: RuntimeError.self) { try MountParser.parseTmpfsFlag("run") }
    }
}

@Suite struct VolumeStoreTests {
    @Test func createListRemove() throws {
        let root = "/tmp/berth-volume-test-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try VolumeStore(root: root)
        let made = try store.create("data", labels: ["a": "b"])
        #expect(made.mountpoint == root + "/volumes/data/_data")
        #expect(FileManager.default.fileExists(atPath: made.mountpoint))
        // Creating an existing volume returns it unchanged, as Docker does.
        #expect(try store.create("data") == made)
        let anonymous = try store.create(nil, anonymous: true)
        #expect(anonymous.name.count == 64 && anonymous.anonymous)
        // A creation interrupted before its rename leaves only a staging directory, cleared by list.
        try FileManager.default.createDirectory(atPath: root + "/volumes/.creating-interrupted/_data",
                                                withIntermediateDirectories: true)
        #expect(try store.list().map(\.name).sorted() == [anonymous.name, "data"].sorted())
        #expect(!FileManager.default.fileExists(atPath: root + "/volumes/.creating-interrupted"))
        try store.remove("data")
        #expect(try store.volume("data") == nil)
        #expect(throws: RuntimeError.noSuchVolume("data")) { try store.remove("data") }
        #expect(throws: RuntimeError.invalidVolumeName("x")) { try store.create("x") }
        #expect(throws: RuntimeError.invalidVolumeName("../up")) { try store.create("../up") }
    }
}
