import BerthEngine
import BerthTemplate
import Foundation
import NIOCore
import NIOHTTP1

extension Routes {
    static func system(_ engine: Engine) -> [Route] {
        [
            Route(.GET, "/_ping") { _, response in try await ping(response, head: false) },
            Route(.HEAD, "/_ping") { _, response in try await ping(response, head: true) },
            Route(.GET, "/version") { _, response in
                try await response.sendJSONText(Engine.versionDocument(
                    apiVersion: APIVersion.current.description, minimumAPIVersion: APIVersion.minimum.description).compact)
            },
            Route(.GET, "/info") { _, response in
                try await response.sendJSONText(try await engine.blocking { try engine.info().compact })
            },
            Route(.GET, "/system/df") { request, response in
                var types = Set<Engine.DiskUsageType>()
                for name in request.query.strings("type") {
                    guard let type = Engine.DiskUsageType(rawValue: name) else {
                        throw APIError(status: .badRequest, message: "unknown object type: \(name)")
                    }
                    types.insert(type)
                }
                let asked = types.isEmpty ? Set(Engine.DiskUsageType.allCases) : types
                try await response.sendJSONText(try await engine.blocking { try engine.diskUsage(asked).compact })
            },
            Route(.GET, "/events") { request, response in try await followEvents(engine, request, response) },
        ]
    }

    /// `/events`: the logged events from `since` (when asked), then new ones as any process on the
    /// root records them, until `until` passes or the client goes away.
    private static func followEvents(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let since = try unixTime(request.query.string("since"), "since")
        let until = try unixTime(request.query.string("until"), "until")
        if let since, let until, until < since {
            throw APIError(status: .badRequest, message: "`since` time (\(request.query.string("since") ?? "")) cannot be after `until` time (\(request.query.string("until") ?? ""))")
        }
        let filters = try Filters(json: request.query.string("filters"))
        try await response.startStream(contentType: "application/json")
        let legacyFields = request.version < APIVersion(1, 52)
        let events = engine.events.follow(since: since, until: until, filters: filters)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    try await response.write(ByteBuffer(string: event.json(legacyFields: legacyFields) + "\n"))
                }
            }
            group.addTask {
                // Polled rather than awaited: the connection's close cannot be cancelled, and
                // this task must end when the events do.
                while response.isClientConnected { try await Task.sleep(for: .milliseconds(200)) }
                throw CancellationError()
            }
            // The first to end (the events reaching `until`, or the client leaving) ends both.
            _ = try? await group.next()
            group.cancelAll()
        }
        if response.isClientConnected { try await response.end() }
    }

    /// dockerd's Unix timestamps (`1700000000`, `1700000000.123456789`); nil when absent.
    private static func unixTime(_ text: String?, _ name: String) throws -> Date? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]),
              parts.count == 1 || (parts[1].count <= 9 && parts[1].allSatisfy(\.isNumber) && !parts[1].isEmpty) else {
            throw APIError(status: .badRequest, message: "invalid value for '\(name)': invalid timestamp \(goQuoted(text))")
        }
        let fraction = parts.count == 2 ? (Double("0." + parts[1]) ?? 0) : 0
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
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
