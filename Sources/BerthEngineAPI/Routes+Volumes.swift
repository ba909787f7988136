import BerthEngine
import NIOCore
import NIOHTTP1

extension Routes {
    static func volumes(_ engine: Engine) -> [Route] {
        [
            Route(.GET, "/volumes") { request, response in
                let filters = try Filters(json: request.query.string("filters"))
                let documents = try await engine.blocking { try engine.volumes(filters: filters).map { $0.document().compact } }
                try await response.sendJSONText(#"{"Volumes":["# + documents.joined(separator: ",") + #"],"Warnings":null}"#)
            },
            Route(.POST, "/volumes/create") { request, response in
                let body = try await request.decodeBody(VolumeCreateRequest.self)
                let options = try body.options()
                let document = try await engine.blocking { try engine.createVolume(options).document().compact }
                try await response.sendJSONText(document, status: .created)
            },
            Route(.POST, "/volumes/prune") { request, response in
                var filters = try Filters(json: request.query.string("filters"))
                // Before API 1.42 a prune took named volumes too.
                if request.version < APIVersion(1, 42), !filters.contains("all") { filters.add("all", "true") }
                let pruneFilters = filters
                let report = try await engine.blocking { try engine.pruneVolumes(filters: pruneFilters) }
                try await response.sendJSON(VolumePruneResponse(volumesDeleted: report.deleted, spaceReclaimed: report.spaceReclaimed))
            },
            Route(.GET, "/volumes/{name}") { request, response in
                let name = request.parameter("name")
                let document = try await engine.blocking { try engine.volume(name).document().compact }
                try await response.sendJSONText(document)
            },
            Route(.DELETE, "/volumes/{name}") { request, response in
                let name = request.parameter("name")
                let force = request.query.bool("force")
                try await engine.blocking { try engine.removeVolume(name, force: force) }
                try await response.sendStatus(.noContent)
            },
        ]
    }
}

/// `POST /volumes/create`'s body.
struct VolumeCreateRequest: Decodable {
    let name: String?
    let driver: String?
    let driverOpts: [String: String]?
    let labels: [String: String]?
    let clusterVolumeSpec: [String: JSONIgnored]?

    /// Any JSON value, only to know whether one was given.
    struct JSONIgnored: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", driverOpts = "DriverOpts", labels = "Labels", clusterVolumeSpec = "ClusterVolumeSpec"
    }

    func options() throws -> VolumeCreateOptions {
        if clusterVolumeSpec != nil {
            throw APIError(status: .badRequest, message: "cluster volumes are not supported by Berth")
        }
        var options = VolumeCreateOptions(name: (name ?? "").isEmpty ? nil : name)
        options.driver = driver ?? ""
        options.driverOptions = driverOpts ?? [:]
        options.labels = labels ?? [:]
        return options
    }
}

struct VolumePruneResponse: Encodable {
    @NullWhenEmpty var volumesDeleted: [String]
    let spaceReclaimed: Int64

    enum CodingKeys: String, CodingKey { case volumesDeleted = "VolumesDeleted", spaceReclaimed = "SpaceReclaimed" }
}
