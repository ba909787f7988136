// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // Spec types: digests, descriptors, manifests, image config, references (pure).
        .target(
            name: "BerthOCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // zlib and libzstd from Debian (zlib1g-dev, libzstd-dev), for gzip and zstd layers.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Tar reading and writing, compression, safe extraction, whiteouts.
        .target(
            name: "BerthArchive",
            dependencies: ["CZlib", "CZstd"]
        ),
        // Dockerfile parser, word expansion, heredocs, .dockerignore (pure).
        .target(name: "BerthDockerfile"),
        // Build graph and execution; for now, applying config-only instructions to image configs.
        .target(name: "BerthBuild", dependencies: ["BerthOCI", "BerthDockerfile", "BerthStore", "BerthArchive", "BerthRuntime"]),
        // Content store, image names, snapshots, metadata database, GC.
        .target(
            name: "BerthStore",
            dependencies: [
                "BerthOCI", "BerthArchive",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Bridge networking, IPAM, NAT and published ports, through the standard CNI plugins.
        .target(name: "BerthNetwork", dependencies: ["BerthOCI"]),
        // OCI bundles, the runc driver, container state, the per-container monitor, logs.
        .target(name: "BerthRuntime", dependencies: ["BerthOCI", "BerthStore", "BerthArchive", "BerthNetwork"]),
        .executableTarget(
            name: "berth",
            dependencies: [
                "BerthOCI", "BerthArchive", "BerthStore", "BerthDockerfile", "BerthBuild", "BerthRuntime",
                "BerthNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "BerthOCITests", dependencies: ["BerthOCI"]),
        .testTarget(name: "BerthArchiveTests", dependencies: ["BerthArchive"]),
        .testTarget(
            name: "BerthDockerfileTests",
            dependencies: ["BerthDockerfile"],
            resources: [.copy("Corpus")]
        ),
        .testTarget(
            name: "BerthBuildTests", dependencies: ["BerthBuild", "BerthDockerfile", "BerthOCI", "BerthStore", "BerthArchive"]),
        .testTarget(name: "BerthNetworkTests", dependencies: ["BerthNetwork"]),
        .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthStore", "BerthOCI"]),
        .testTarget(name: "BerthStoreTests", dependencies: ["BerthStore", "BerthOCI", "BerthArchive"]),
        // Drives the built `berth` binary and real peers (docker, skopeo, umoci); needs root.
        .testTarget(name: "IntegrationTests", dependencies: ["BerthOCI"]),
    ],
    swiftLanguageModes: [.v5]
)
