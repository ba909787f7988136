import BerthEngine
import Foundation
import NIOCore
import NIOHTTP1

/// A request as a handler sees it: the path without its version prefix, the parameters the
/// route's pattern named, the query, and the body as it arrives.
public struct APIRequest: Sendable {
    public let method: HTTPMethod
    /// The path after the version prefix, e.g. `/containers/abc/json`.
    public let path: String
    /// The version the client asked for in the path, or the newest when it asked for none.
    public let version: APIVersion
    public let headers: HTTPHeaders
    public let query: Query
    public let body: RequestBody
    /// The values of the route's `{name}` segments.
    public var parameters: [String: String] = [:]

    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The body decoded as JSON; an empty body decodes as `empty` when one is given.
    public func decodeBody<T: Decodable>(_ type: T.Type, empty: T? = nil) async throws -> T {
        let buffer = try await body.collect()
        if buffer.readableBytes == 0, let empty { return empty }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(status: .badRequest, message: "invalid JSON: \(APIError.describe(decoding: error))")
        }
    }
}

public typealias APIHandler = @Sendable (APIRequest, ResponseWriter) async throws -> Void

/// One endpoint: a method and a path pattern whose `{name}` segments match one path segment and
/// whose `{name*}` segment matches one or more (an image name has slashes: `/images/{name*}/json`).
public struct Route: Sendable {
    let method: HTTPMethod
    let segments: [Substring]
    let handler: APIHandler

    public init(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping APIHandler) {
        self.method = method
        self.segments = pattern.split(separator: "/")
        self.handler = handler
    }

    /// The parameters when `path` matches.
    func match(_ path: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        guard let rest = segments.firstIndex(where: { $0.hasSuffix("*}") }) else {
            guard path.count == segments.count else { return nil }
            return Self.match(segments[...], path[...], into: &parameters) ? parameters : nil
        }
        let suffixCount = segments.count - rest - 1
        guard path.count >= rest + 1 + suffixCount else { return nil }
        guard Self.match(segments[..<rest], path[..<rest], into: &parameters),
              Self.match(segments[(rest + 1)...], path[(path.count - suffixCount)...], into: &parameters) else { return nil }
        let name = segments[rest].dropFirst().dropLast(2)
        parameters[String(name)] = path[rest..<(path.count - suffixCount)].joined(separator: "/")
        return parameters
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>, into parameters: inout [String: String]) -> Bool {
        for (expected, actual) in zip(pattern, path) {
            if expected.hasPrefix("{") {
                parameters[String(expected.dropFirst().dropLast())] = String(actual)
            } else if expected != actual {
                return false
            }
        }
        return true
    }
}

/// Finds each request's route, checks its version and turns what a handler throws into dockerd's
/// error responses.
public final class Router: Sendable {
    private let routes: [Route]

    public init(routes: [Route]) {
        self.routes = routes
    }

    func respond(to head: HTTPRequestHead, body: RequestBody, response: ResponseWriter) async {
        do {
            let request = try self.request(head, body: body)
            let segments = request.path.split(separator: "/").map { Substring($0.removingPercentEncoding ?? String($0)) }
            for route in routes where route.method == head.method {
                guard let parameters = route.match(segments) else { continue }
                var matched = request
                matched.parameters = parameters
                try await route.handler(matched, response)
                return
            }
            // dockerd answers a known path with another method as it answers an unknown one.
            throw APIError(status: .notFound, message: "page not found")
        } catch {
            await fail(response, error)
        }
    }

    private func request(_ head: HTTPRequestHead, body: RequestBody) throws -> APIRequest {
        let (rawPath, queryText) = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init).splittingFirst()
        var path = rawPath
        var version = APIVersion.current
        if let (asked, rest) = APIVersion.prefix(of: path) {
            guard asked >= APIVersion.minimum else {
                throw APIError(status: .badRequest, message: "client version \(asked) is too old. Minimum supported API version is \(APIVersion.minimum), please upgrade your client to a newer version")
            }
            guard asked <= APIVersion.current else {
                throw APIError(status: .badRequest, message: "client version \(asked) is too new. Maximum supported API version is \(APIVersion.current)")
            }
            version = asked
            path = rest
        }
        return APIRequest(method: head.method, path: path, version: version, headers: head.headers,
                          query: Query(queryText ?? ""), body: body)
    }

    private func fail(_ response: ResponseWriter, _ error: any Error) async {
        guard !response.hasStarted else {
            response.abandon()
            return
        }
        let (status, message) = APIError.response(for: error)
        if status == .notModified {
            try? await response.sendStatus(status)
        } else {
            try? await response.sendError(status, message: message)
        }
    }
}

private extension Array where Element == String {
    func splittingFirst() -> (String, String?) { (self[0], count > 1 ? self[1] : nil) }
}

/// An error with the status the API answers it with.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public let status: HTTPResponseStatus
    public let message: String

    public init(status: HTTPResponseStatus, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    /// The status and message of any error, through the service layer's kinds.
    static func response(for error: any Error) -> (HTTPResponseStatus, String) {
        if let error = error as? APIError { return (error.status, error.message) }
        let kind = EngineError.kind(of: error)
        return (HTTPResponseStatus(statusCode: kind.httpStatus), "\(error)")
    }

    static func describe(decoding error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
