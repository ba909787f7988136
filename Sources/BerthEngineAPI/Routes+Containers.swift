import BerthEngine
import BerthRuntime
import BerthTemplate
import Foundation
import NIOCore
import NIOHTTP1

extension Routes {
    static func containers(_ engine: Engine) -> [Route] {
        [
            Route(.POST, "/containers/create") { request, response in
                let body = try await request.body.collect()
                var options = try ContainerCreateOptions(apiBody: Data(body.readableBytesView), name: request.query.string("name"))
                options.platform = request.query.string("platform")
                let record = try await engine.createContainer(options)
                try await response.sendJSON(CreateResponse(id: record.id, warnings: []), status: .created)
            },
            Route(.GET, "/containers/json") { request, response in
                let filters = try Filters(json: request.query.string("filters"))
                let options = ContainerListOptions(all: request.query.bool("all"), limit: try request.query.int("limit") ?? 0, filters: filters)
                let size = request.query.bool("size")
                let records = try await engine.listContainers(options)
                let documents = try await engine.blocking {
                    records.map { ContainerSummaryJSON.document(for: $0, size: size ? engine.containerSize($0) : nil) }
                }
                try await sendDocument(.array(documents), response)
            },
            Route(.GET, "/containers/{id}/json") { request, response in
                try await sendDocument(try await engine.inspectContainer(request.parameter("id"), size: request.query.bool("size")), response)
            },
            Route(.POST, "/containers/{id}/start") { request, response in
                try await engine.startContainer(request.parameter("id"))
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/stop") { request, response in
                try await engine.stopContainer(request.parameter("id"), timeout: try request.query.int("t"),
                                               signal: nonEmpty(request.query.string("signal")))
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/restart") { request, response in
                try await engine.restartContainer(request.parameter("id"), timeout: try request.query.int("t"),
                                                  signal: nonEmpty(request.query.string("signal")))
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/kill") { request, response in
                try await engine.killContainer(request.parameter("id"), signal: nonEmpty(request.query.string("signal")) ?? "KILL")
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/wait") { request, response in
                try await wait(engine, request, response)
            },
            Route(.GET, "/containers/{id}/top") { request, response in
                let arguments = (request.query.string("ps_args") ?? "").split(separator: " ").map(String.init)
                let (titles, processes) = try await engine.topContainer(request.parameter("id"), psArguments: arguments)
                try await response.sendJSON(TopResponse(titles: titles, processes: processes))
            },
            Route(.POST, "/containers/{id}/rename") { request, response in
                guard let name = nonEmpty(request.query.string("name")) else {
                    throw APIError(status: .badRequest, message: "new name is required")
                }
                try await engine.renameContainer(request.parameter("id"), to: name)
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/update") { request, response in
                let body = try await request.body.collect()
                try await engine.updateContainer(request.parameter("id"), try ResourceUpdate(apiBody: Data(body.readableBytesView)))
                try await response.sendJSON(UpdateResponse(warnings: []))
            },
            Route(.POST, "/containers/{id}/pause") { request, response in
                try await engine.pauseContainer(request.parameter("id"))
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/containers/{id}/unpause") { request, response in
                try await engine.unpauseContainer(request.parameter("id"))
                try await response.sendStatus(.noContent)
            },
            Route(.GET, "/containers/{id}/changes") { request, response in
                let changes = try await engine.containerChanges(request.parameter("id"))
                try await response.sendJSON(changes.map { Change(path: $0.path, kind: $0.kind.rawValue) })
            },
            Route(.GET, "/containers/{id}/export") { request, response in
                let record = try await engine.container(request.parameter("id"))
                try await response.startStream(contentType: "application/x-tar")
                try await engine.exportContainer(record.id) { chunk in try await response.write(ByteBuffer(bytes: chunk)) }
                try await response.end()
            },
            Route(.POST, "/containers/prune") { request, response in
                let pruned = try await engine.pruneContainers(try Filters(json: request.query.string("filters")))
                try await response.sendJSON(ContainerPruneResponse(containersDeleted: pruned.deleted,
                                                          spaceReclaimed: pruned.spaceReclaimed))
            },
            Route(.DELETE, "/containers/{id}") { request, response in
                try await engine.removeContainer(request.parameter("id"), force: request.query.bool("force"),
                                                 volumes: request.query.bool("v"), link: request.query.bool("link"))
                try await response.sendStatus(.noContent)
            },
        ]
    }

    /// `POST /containers/{id}/wait`: the headers at once (the client knows its wait is in place),
    /// the exit code when the condition holds; a client that goes away ends the wait.
    private static func wait(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let condition: WaitCondition
        switch nonEmpty(request.query.string("condition")) {
        case nil: condition = .notRunning
        case let name?:
            guard let known = WaitCondition(rawValue: name) else {
                throw APIError(status: .badRequest, message: "invalid condition: \"\(name)\"")
            }
            condition = known
        }
        // The wait starts from the container as it is now, before the answer's headers, which a
        // client may take as the sign that it can start or remove the container.
        let record = try await engine.container(request.parameter("id"))
        try await response.startStream(contentType: "application/json")
        let waiter = Task { try await engine.waitContainer(record.id, condition: condition, asked: record) }
        // Not a task group: one would wait for the watcher, which ends only with the connection.
        Task {
            await response.clientGone()
            waiter.cancel()
        }
        guard let code = try? await waiter.value else { return }
        try await response.writeJSON(WaitResponse(statusCode: code))
        try await response.end()
    }

    /// An engine document (inspect, list) as the response's JSON body.
    private static func sendDocument(_ document: OrderedJSON, _ response: ResponseWriter) async throws {
        try await response.send(.ok, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: document.compact + "\n"))
    }

    static func nonEmpty(_ value: String?) -> String? {
        value.flatMap { $0.isEmpty ? nil : $0 }
    }
}

private struct CreateResponse: Encodable {
    let id: String
    let warnings: [String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", warnings = "Warnings"
    }
}

private struct UpdateResponse: Encodable {
    let warnings: [String]

    enum CodingKeys: String, CodingKey {
        case warnings = "Warnings"
    }
}

private struct TopResponse: Encodable {
    let titles: [String]
    let processes: [[String]]

    enum CodingKeys: String, CodingKey {
        case titles = "Titles", processes = "Processes"
    }
}

private struct Change: Encodable {
    let path: String
    let kind: Int

    enum CodingKeys: String, CodingKey {
        case path = "Path", kind = "Kind"
    }
}

private struct ContainerPruneResponse: Encodable {
    @NullWhenEmpty var containersDeleted: [String]
    let spaceReclaimed: Int64

    enum CodingKeys: String, CodingKey {
        case containersDeleted = "ContainersDeleted", spaceReclaimed = "SpaceReclaimed"
    }
}

private struct WaitResponse: Encodable {
    let statusCode: Int32

    enum CodingKeys: String, CodingKey {
        case statusCode = "StatusCode", error = "Error"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(statusCode, forKey: .statusCode)
        try container.encodeNil(forKey: .error)
    }
}
