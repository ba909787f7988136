// swift-tools-version:6.1
import Foundation
import PackageDescription

// Release executables are linked at a fixed address (not PIE; the libraries they load keep ASLR):
// with the Swift runtime linked in statically, a PIE carries tens of thousands of relative
// relocations that every start applies, costing start-up time and making the pages they patch
// private memory of each process (a monitor's idle RSS grows with them).
// Nor do they export their symbols dynamically (the static Swift runtime's link flags ask for
// that): nothing looks them up, and `dladdr` at start-up would scan them all.
// And they link zlib, zstd, SQLite and libstdc++ statically, so no start loads and relocates those
// four shared libraries. The StaticLibraries directory comes first on the library path; for each of
// those `-l` names it holds a linker script naming the library's static archive.
// (The measurements behind these choices: bench/HISTORY.md.)
let staticLibraries = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("StaticLibraries").path
let releaseLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-no-pie", "-Xlinker", "--no-export-dynamic", "-L", staticLibraries],
                 .when(configuration: .release)),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-monitor", targets: ["berth-monitor"]),
        // The modules the fuzz harnesses (fuzz/Package.swift) link, one library each so a harness
        // builds only what it drives.
        .library(name: "BerthDockerfile", targets: ["BerthDockerfile"]),
        .library(name: "BerthArchive", targets: ["BerthArchive"]),
        .library(name: "BerthOCI", targets: ["BerthOCI"]),
        .library(name: "BerthRegistryServer", targets: ["BerthRegistryServer"]),
        .library(name: "BerthTemplate", targets: ["BerthTemplate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // Spec types: digests, descriptors, manifests, image config, references (pure).
        .target(
            name: "BerthOCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // zlib and libzstd from Debian (zlib1g-dev, libzstd-dev), for gzip and zstd layers.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // SQLite from Debian (libsqlite3-dev), for the one setting GRDB has no API for.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The system calls Swift's Glibc module cannot reach (it is imported without _GNU_SOURCE)
        // and process work that must run between fork and exec.
        .target(name: "CBerth", cSettings: [.define("_GNU_SOURCE")]),
        // Atomic file writes with an explicit durability, and file errors that keep their errno:
        // a leaf that the store, runtime, network and registry modules all import.
        .target(name: "BerthFiles", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Tar reading and writing, compression, safe extraction, whiteouts.
        .target(
            name: "BerthArchive",
            dependencies: ["CBerth", "CZlib", "CZstd"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Dockerfile parser, word expansion, heredocs, .dockerignore (pure).
        .target(name: "BerthDockerfile", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Docker's `--format`: the Go template subset, the order-keeping JSON it walks, and Go's %q (pure).
        .target(name: "BerthTemplate", swiftSettings: [.swiftLanguageMode(.v6)]),
        // The builder: Dockerfile stage graph, step cache, COPY/ADD, RUN steps in runc on overlayfs,
        // layer commits; also the config-only instructions `import --change` applies.
        .target(name: "BerthBuild", dependencies: ["BerthOCI", "BerthDockerfile", "BerthStore", "BerthArchive", "BerthFiles", "BerthRuntime", "BerthTemplate",
                                                   .product(name: "AsyncHTTPClient", package: "async-http-client")],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        // Content store, image names, snapshots, metadata database, GC.
        .target(
            name: "BerthStore",
            dependencies: [
                "BerthOCI", "BerthArchive", "BerthFiles", "BerthProcess", "CSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Starting helper processes (runc, iptables, dnsmasq, the monitor) with posix_spawn: descriptors,
        // signals, sessions, waiting and reaping; guarded children that end with their starter.
        .target(name: "BerthProcess", dependencies: ["CBerth"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Bridge networks made in-process with rtnetlink, address leases (in the CNI host-local
        // plugin's on-disk format), NAT and published ports through iptables, per-network DNS
        // (dnsmasq); the CNI plugins only tear down attachments older versions made.
        .target(name: "BerthNetwork", dependencies: ["BerthOCI", "BerthFiles", "BerthProcess", "CBerth"],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        // OCI bundles, the runc driver, container state, the per-container monitor, logs.
        .target(name: "BerthRuntime", dependencies: ["BerthOCI", "BerthArchive", "BerthFiles", "BerthNetwork", "BerthProcess", "CBerth"],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        // The distribution-spec's shared vocabulary: error codes and bodies, repository names,
        // auth challenges and scopes (pure).
        .target(name: "BerthDistribution", dependencies: ["BerthOCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Registry client: login credentials (config.json, credential helpers), auth flows, push and pull.
        .target(
            name: "BerthRegistryClient",
            dependencies: [
                "BerthDistribution", "BerthOCI", "BerthStore", "BerthArchive", "BerthFiles",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Private registry server: every distribution-spec endpoint on filesystem storage, access
        // control (htpasswd, per-repository permissions, bearer tokens), TLS, garbage collection.
        .target(
            name: "BerthRegistryServer",
            dependencies: [
                "BerthDistribution", "BerthFiles", "BerthOCI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The service layer under the CLI and `berth serve`: containers, images, builds, networks,
        // volumes, registry transfers and events, with Docker's semantics and typed errors.
        .target(
            name: "BerthEngine",
            dependencies: [
                "BerthOCI", "BerthArchive", "BerthFiles", "BerthStore", "BerthDockerfile", "BerthBuild", "BerthRuntime",
                "BerthNetwork", "BerthDistribution", "BerthRegistryClient", "BerthTemplate", "BerthProcess",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The Docker Engine API over the service layer: HTTP/1.1 on Unix sockets and TLS, with
        // dockerd's hijacked connections for attach and exec.
        .target(
            name: "BerthEngineAPI",
            dependencies: [
                "BerthEngine", "BerthOCI", "BerthStore", "BerthRuntime", "BerthNetwork", "BerthTemplate", "BerthArchive", "BerthBuild",
                "BerthRegistryClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The Kubernetes API's machinery without any networking: resource registry, Status errors,
        // selectors, admission of the served kinds, and the object store (SQLite, revisions, watches).
        .target(
            name: "BerthKubeAPI",
            dependencies: ["BerthTemplate", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The Kubernetes API's HTTPS front end: TLS with client-certificate authentication, the
        // cluster's certificates, routing of `/api`, `/apis` and the fixed endpoints, watch streams.
        .target(
            name: "BerthKube",
            dependencies: [
                "BerthArchive", "BerthKubeAPI", "BerthTemplate", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The controllers of a one-node cluster (Deployment, ReplicaSet, Job, … and the garbage
        // collector), reconciling through the object store.
        .target(
            name: "BerthKubeControllers",
            dependencies: ["BerthKubeAPI", "BerthNetwork", "BerthTemplate"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // What kube-proxy does: Services and EndpointSlices turned into iptables DNAT rules.
        .target(
            name: "BerthKubeProxy",
            dependencies: ["BerthKubeAPI", "BerthProcess", "BerthTemplate"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The cluster DNS (Kubernetes' DNS-based service discovery): its own RFC 1035 codec, over
        // SwiftNIO UDP and TCP, answering from the store and forwarding the rest to the host's resolvers.
        .target(
            name: "BerthKubeDNS",
            dependencies: [
                "BerthKubeAPI", "BerthTemplate",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The node: runs the pods bound to it on the container runtime (what a kubelet does).
        .target(
            name: "BerthKubelet",
            dependencies: ["BerthKubeAPI", "BerthTemplate", "BerthEngine", "BerthRuntime", "BerthNetwork", "BerthStore", "BerthOCI",
                           "BerthFiles", "BerthProcess", "BerthRegistryClient", "CBerth"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Ingresses served by nginx, driven by configuration generated from the cluster's objects.
        .target(
            name: "BerthKubeIngress",
            dependencies: ["BerthKubeAPI", "BerthTemplate", "BerthProcess"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "berth",
            dependencies: [
                "BerthOCI", "BerthArchive", "BerthFiles", "BerthStore", "BerthDockerfile", "BerthBuild", "BerthRuntime",
                "BerthNetwork", "BerthDistribution", "BerthRegistryClient", "BerthRegistryServer", "BerthTemplate",
                "BerthEngine", "BerthEngineAPI", "BerthKube", "BerthKubeAPI", "BerthKubeControllers", "BerthKubelet",
                "BerthKubeIngress", "BerthKubeProxy", "BerthKubeDNS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)],
            linkerSettings: releaseLinkerSettings
        ),
        // The per-container monitor and `cp`'s container side: a small executable installed next to
        // `berth`, so each idle container costs little memory and its monitor starts fast.
        .executableTarget(name: "berth-monitor", dependencies: ["BerthRuntime", "BerthNetwork"], swiftSettings: [.swiftLanguageMode(.v6)],
                          linkerSettings: releaseLinkerSettings),
        // The pause process of a pod's sandbox container: static, so it needs no image around it.
        .executableTarget(name: "berth-pause", linkerSettings: [.unsafeFlags(["-static-executable"])]),
        .testTarget(name: "BerthOCITests", dependencies: ["BerthOCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthArchiveTests", dependencies: ["BerthArchive"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(
            name: "BerthDockerfileTests",
            dependencies: ["BerthDockerfile"],
            resources: [.copy("Corpus")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "BerthBuildTests", dependencies: ["BerthBuild", "BerthDockerfile", "BerthOCI", "BerthStore", "BerthArchive", "BerthNetwork"]),
        .testTarget(name: "BerthProcessTests", dependencies: ["BerthProcess"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthNetworkTests", dependencies: ["BerthNetwork", "BerthOCI", "BerthProcess"]),
        .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthStore", "BerthOCI", "BerthNetwork"]),
        .testTarget(name: "BerthDistributionTests", dependencies: ["BerthDistribution"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthTemplateTests", dependencies: ["BerthTemplate"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthRegistryClientTests", dependencies: ["BerthRegistryClient", "BerthDistribution", "BerthOCI", "BerthStore", "BerthArchive"]),
        .testTarget(name: "BerthRegistryServerTests", dependencies: ["BerthRegistryServer", "BerthDistribution", "BerthOCI"]),
        .testTarget(name: "BerthStoreTests", dependencies: ["BerthStore", "BerthOCI", "BerthArchive"]),
        .testTarget(name: "BerthKubeTests", dependencies: ["BerthKube", "BerthKubeAPI", "BerthTemplate"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeAPITests", dependencies: ["BerthKubeAPI", "BerthTemplate"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeControllersTests", dependencies: ["BerthKubeControllers", "BerthKubeAPI", "BerthTemplate"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeletTests", dependencies: ["BerthKubelet", "BerthKubeAPI", "BerthFiles", "BerthTemplate", "BerthEngine", "BerthOCI",
                                                             "BerthRegistryClient"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeIngressTests", dependencies: ["BerthKubeIngress", "BerthKubeAPI", "BerthTemplate"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeProxyTests", dependencies: ["BerthKubeProxy", "BerthKubeAPI", "BerthTemplate"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthKubeDNSTests", dependencies: ["BerthKubeDNS", "BerthKubeAPI", "BerthTemplate"],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthFilesTests", dependencies: ["BerthFiles"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "BerthEngineTests", dependencies: ["BerthEngine", "BerthRuntime", "BerthStore", "BerthOCI", "BerthArchive",
                                                            "BerthBuild", "BerthRegistryClient", "BerthTemplate",
                                                            .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: [.swiftLanguageMode(.v6)]),
        // Drives the built `berth` binary and real peers (docker, skopeo, umoci); needs root.
        .testTarget(name: "IntegrationTests", dependencies: ["BerthOCI", "BerthArchive", "BerthTemplate"]),
    ],
    // Every library module, both executables and the leaf modules' tests set the Swift 6 language
    // mode themselves; the default still covers the other test targets.
    swiftLanguageModes: [.v5]
)
