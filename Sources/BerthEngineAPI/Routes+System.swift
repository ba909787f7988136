import BerthEngine
import NIOCore
import NIOHTTP1

extension Routes {
    static func system(_ engine: Engine) -> [Route] {
        [
            Route(.GET, "/_ping") { _, response in try await ping(response, head: false) },
            Route(.HEAD, "/_ping") { _, response in try await ping(response, head: true) },
            Route(.GET, "/version") { _, response in try await response.sendJSON(VersionResponse.current) },
        ]
    }

    /// `/_ping`: "OK", with the headers a client negotiates its version and builder from.
    private static func ping(_ response: ResponseWriter, head: Bool) async throws {
        let headers: HTTPHeaders = [
            "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache", "Builder-Version": "1",
        ]
        try await response.send(.ok, headers: headers, body: head ? nil : ByteBuffer(string: "OK"))
    }
}

/// `/version`'s body.
struct VersionResponse: Encodable {
    struct Component: Encodable {
        let name: String
        let version: String
        let details: [String: String]

        enum CodingKeys: String, CodingKey {
            case name = "Name", version = "Version", details = "Details"
        }
    }

    let platform: [String: String]
    let components: [Component]
    let version: String
    let apiVersion: String
    let minAPIVersion: String
    let gitCommit: String
    let goVersion: String
    let os: String
    let arch: String
    let kernelVersion: String
    let buildTime: String

    enum CodingKeys: String, CodingKey {
        case platform = "Platform", components = "Components", version = "Version", apiVersion = "ApiVersion"
        case minAPIVersion = "MinAPIVersion", gitCommit = "GitCommit", goVersion = "GoVersion", os = "Os"
        case arch = "Arch", kernelVersion = "KernelVersion", buildTime = "BuildTime"
    }

    static var current: VersionResponse {
        let engine = Component(name: "Engine", version: APIVersion.serverVersion, details: [
            "ApiVersion": APIVersion.current.description, "MinAPIVersion": APIVersion.minimum.description,
            "Os": "linux", "Arch": SystemFacts.goArchitecture, "KernelVersion": SystemFacts.kernelVersion,
        ])
        return VersionResponse(
            platform: ["Name": "Berth"], components: [engine], version: APIVersion.serverVersion,
            apiVersion: APIVersion.current.description, minAPIVersion: APIVersion.minimum.description,
            gitCommit: "berth", goVersion: "swift", os: "linux", arch: SystemFacts.goArchitecture,
            kernelVersion: SystemFacts.kernelVersion, buildTime: "")
    }
}
