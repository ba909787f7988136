// swift-tools-version:5.4
import PackageDescription

// libFuzzer harnesses for Berth's parsers of outside input, one executable each; build them with
// fuzz/run.sh (it adds `-sanitize=fuzzer,address` and `-parse-as-library`). libFuzzer brings the
// `main`: from tools version 5.5 on, SwiftPM would rename each executable's entry point and alias
// `main` to it, which a harness (a library-style file with no entry point) cannot satisfy.
let package = Package(
    name: "BerthFuzz",
    dependencies: [
        .package(name: "Berth", path: ".."),
        // For NIOEmbedded: the registry harness hands the responder a channel with no socket.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(name: "fuzz-dockerfile", dependencies: [.product(name: "BerthDockerfile", package: "Berth")],
                          path: "Sources/FuzzDockerfile"),
        .executableTarget(name: "fuzz-archive", dependencies: [.product(name: "BerthArchive", package: "Berth")],
                          path: "Sources/FuzzArchive"),
        .executableTarget(name: "fuzz-oci", dependencies: [.product(name: "BerthOCI", package: "Berth")],
                          path: "Sources/FuzzOCI"),
        .executableTarget(name: "fuzz-registry",
                          dependencies: [.product(name: "BerthRegistryServer", package: "Berth"),
                                         .product(name: "NIOEmbedded", package: "swift-nio")],
                          path: "Sources/FuzzRegistry"),
        .executableTarget(name: "fuzz-template", dependencies: [.product(name: "BerthTemplate", package: "Berth")],
                          path: "Sources/FuzzTemplate"),
    ],
    swiftLanguageVersions: [.v5]
)
