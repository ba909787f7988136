import BerthOCI
import Foundation
import Testing

@Suite struct ImageConfigTests {
    /// A config as Docker 20.10 writes it into `docker save` archives (extra keys must be ignored).
    static let dockerConfig = """
    {"architecture":"amd64","config":{"Hostname":"","User":"app","ExposedPorts":{"5000/tcp":{}},
    "Env":["PATH=/usr/bin","A=b"],"Cmd":["python","app.py"],"Healthcheck":{"Test":["CMD-SHELL","true"],
    "Interval":30000000000,"Retries":3},"Image":"sha256:x","Volumes":{"/data":{}},"WorkingDir":"/app",
    "Entrypoint":null,"OnBuild":["RUN echo hi"],"Labels":{"maintainer":"Katie Gamanji"},"StopSignal":"SIGINT",
    "Shell":["/bin/sh","-c"]},"container_config":{"Cmd":["/bin/sh"]},"created":"2024-05-01T10:20:30.123456789Z",
    "docker_version":"20.10.24","history":[{"created":"2024-05-01T10:20:30Z","created_by":"/bin/sh -c #(nop) ADD file"},
    {"created":"2024-05-01T10:20:31Z","created_by":"/bin/sh -c #(nop) CMD [\\"python\\"]","empty_layer":true}],
    "os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\(String(repeating: "1", count: 64))"]}}
    """

    @Test func decodesDockerConfig() throws {
        let config = try CanonicalJSON.decode(ImageConfig.self, from: Array(Self.dockerConfig.utf8))
        #expect(config.config?.User == "app")
        #expect(config.config?.ExposedPorts?.keys.sorted() == ["5000/tcp"])
        #expect(config.config?.Healthcheck?.Interval == 30_000_000_000)
        #expect(config.config?.OnBuild == ["RUN echo hi"])
        #expect(config.config?.Labels?["maintainer"] == "Katie Gamanji")
        #expect(config.history?[1].emptyLayer == true)
        #expect(config.rootfs.diffIDs.count == 1)
        #expect(config.created.flatMap(Timestamp.parse) != nil)
    }

    @Test func encodesStably() throws {
        var config = ImageConfig(created: "2024-01-01T00:00:00Z")
        config.config?.ExposedPorts = ["80/tcp": EmptyObject()]
        config.config?.Env = ["PATH=/bin"]
        let first = try CanonicalJSON.encode(config)
        let again = try CanonicalJSON.encode(CanonicalJSON.decode(ImageConfig.self, from: first))
        #expect(first == again)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.contains("\"ExposedPorts\":{\"80/tcp\":{}}"))
        #expect(text.contains("\"diff_ids\":[]"))
    }

    @Test func timestampsRoundTrip() throws {
        let date = try #require(Timestamp.parse("2024-05-01T10:20:30.5Z"))
        #expect(Timestamp.format(date) == "2024-05-01T10:20:30.5Z")
        #expect(Timestamp.parse("2024-05-01T12:20:30+02:00") == Timestamp.parse("2024-05-01T10:20:30Z"))
        #expect(Timestamp.parse("yesterday") == nil)
    }

    @Test func indexPicksHostPlatform() throws {
        let digest = Digest.sha256(of: [0])
        let index = Index(manifests: [
            Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: [1]), size: 1,
                       platform: Platform(architecture: "arm64", os: "linux")),
            Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: 1,
                       platform: Platform(architecture: "amd64", os: "linux")),
        ])
        #expect(index.manifest(for: Platform(architecture: "amd64", os: "linux"))?.digest == digest)
        #expect(index.manifest(for: Platform(architecture: "s390x", os: "linux")) == nil)
    }
}
