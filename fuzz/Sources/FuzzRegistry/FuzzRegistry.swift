@testable import BerthRegistryServer
import BerthOCI
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded

/// Sends a sequence of requests to the registry's responder, in process, over a fresh storage
/// directory per input: the route parser, authentication, manifests, blobs with Range, and upload
/// sessions (monolithic, chunked with Content-Range, cancelled) all see fuzzed input.
///
/// The input is requests separated by a line `%%`. Each is `METHOD TARGET`, header lines, an
/// empty line and the body. In the target and the headers, `{upload}` stands for the path of the
/// last upload session the server announced (its `Location`), `{digest}` for the sha256 digest of
/// this request's body and `{token}` for a valid bearer token granting everything on the
/// repositories `fuzz`, `fuzz/other` and `library/busybox`. An input that
/// starts with the line `#token` talks to a registry that requires bearer tokens; any other to an
/// open one.
///
/// The harness traps when the server answers 500 (an internal error), when a body's length
/// differs from its Content-Length or from its Content-Range, or when anything appears beside the
/// storage root.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRegistry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let done = DispatchSemaphore(value: 0)
    Task {
        await Session(bytes).run()
        done.signal()
    }
    done.wait()
    return 0
}

private let secret = Array("fuzz-secret".utf8)
private let tokenSettings = TokenSettings(realm: "http://registry.test/token", secret: secret)
private let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
private let base: String = {
    var template = Array((FileManager.default.temporaryDirectory.path + "/berth-fuzz-registry.XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp: \(String(cString: strerror(errno)))") }
    let path = String(cString: made)
    atexit { try? FileManager.default.removeItem(atPath: base) }
    return path
}()

private struct Session {
    let requests: [[UInt8]]
    let tokenMode: Bool

    init(_ bytes: [UInt8]) {
        var input = bytes[...]
        let marker = Array("#token\n".utf8)
        tokenMode = input.starts(with: marker)
        if tokenMode { input = input.dropFirst(marker.count) }
        requests = Array(split(input, on: Array("\n%%\n".utf8)).prefix(16))
    }

    func run() async {
        let root = base + "/root"
        guard let storage = try? RegistryStorage(root: root) else { fatalError("cannot open storage at \(root)") }
        let access = tokenMode ? AccessPolicy(anonymous: [.pull], token: tokenSettings) : AccessPolicy()
        let responder = RegistryResponder(
            storage: storage, transfers: nil, sendfileToLoopback: false, access: access, maximumManifestSize: 4 << 20,
            logger: logger)
        let channel = NIOAsyncTestingChannel()
        let context = RegistryRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        var upload = "/v2/fuzz/blobs/uploads/none"
        for raw in requests {
            guard let request = makeRequest(raw, upload: upload) else { continue }
            let response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                fatalError("the responder threw \(error)")
            }
            let body = await collect(response)
            check(response, body: body, request: request)
            if let location = response.headers[.location], location.contains("/blobs/uploads/") { upload = location }
        }
        _ = try? await channel.finish()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        guard names == ["root"] else { fatalError("the registry wrote beside its root: \(names)") }
        do { try FileManager.default.removeItem(atPath: root) } catch { fatalError("cannot remove \(root): \(error)") }
    }

    private func makeRequest(_ raw: [UInt8], upload: String) -> Request? {
        let headEnd = find(raw[...], Array("\n\n".utf8))
        let text = String(decoding: raw[..<(headEnd ?? raw.count)], as: UTF8.self)
        let body = headEnd.map { Array(raw[($0 + 2)...]) } ?? []
        let digest = Digest.sha256(of: body).description
        let token = tokenSettings.issue(for: "fuzzer", repositories: ["fuzz", "fuzz/other", "library/busybox"])
        func substitute(_ text: Substring) -> String {
            text.replacingOccurrences(of: "{upload}", with: upload).replacingOccurrences(of: "{digest}", with: digest)
                .replacingOccurrences(of: "{token}", with: token)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard let requestLine = lines.popFirst() else { return nil }
        let parts = requestLine.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let method = HTTPRequest.Method(String(parts[0])) else { return nil }
        var fields = HTTPFields()
        for line in lines {
            guard let colon = line.firstIndex(of: ":"),
                  let name = HeaderField.Name(String(line[..<colon]).trimmingCharacters(in: .whitespaces))
            else { continue }
            fields.append(HeaderField(name: name, value: substitute(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        let head = HTTPRequest(method: method, scheme: "http", authority: "registry.test", path: substitute(parts[1]), headerFields: fields)
        return Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
    }

    private func collect(_ response: Response) async -> [UInt8] {
        let writer = Collector()
        do {
            try await response.body.write(writer)
        } catch {
            fatalError("writing the response body failed: \(error)")
        }
        return writer.received.bytes
    }

    private func check(_ response: Response, body: [UInt8], request: Request) {
        guard response.status.code != 500 else {
            fatalError("\(request.method) \(request.uri): internal error: \(String(decoding: body, as: UTF8.self))")
        }
        if request.method != .head, let length = response.headers[.contentLength].flatMap(Int.init), length != body.count {
            fatalError("\(request.method) \(request.uri): Content-Length \(length) but \(body.count) bytes")
        }
        if response.status == .partialContent {
            guard let range = response.headers[.contentRangeHeader], range.hasPrefix("bytes "),
                  case let bounds = range.dropFirst(6).split(whereSeparator: { $0 == "-" || $0 == "/" }).compactMap({ Int($0) }),
                  bounds.count == 3, bounds[0] <= bounds[1], bounds[1] < bounds[2],
                  request.method == .head || bounds[1] - bounds[0] + 1 == body.count
            else { fatalError("\(request.method) \(request.uri): 206 with a body of \(body.count) bytes and \(response.headers)") }
        }
    }
}

/// Gathers a response body in memory (the responder takes the writer by value).
private struct Collector: ResponseBodyWriter {
    final class Bytes: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    let received = Bytes()

    func write(_ buffer: ByteBuffer) async throws {
        received.bytes += buffer.readableBytesView
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

private extension TokenSettings {
    /// A token as the token service would issue it.
    func issue(for user: String, repositories: [String]) -> String {
        let now = Int64(Date().timeIntervalSince1970)
        let access = repositories.map { BearerToken.Access(type: "repository", name: $0, actions: ["delete", "pull", "push"]) }
        return BearerToken(iss: issuer, sub: user, aud: service, iat: now, nbf: now, exp: now + 3600, jti: "fuzz", access: access)
            .signed(with: secret)
    }
}

private func find(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    var index = haystack.startIndex
    while index + needle.count <= haystack.endIndex {
        if haystack[index..<index + needle.count].elementsEqual(needle) { return index }
        index += 1
    }
    return nil
}

private func split(_ bytes: ArraySlice<UInt8>, on separator: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = []
    var rest = bytes
    while let index = find(rest, separator) {
        parts.append(Array(rest[..<index]))
        rest = rest[(index + separator.count)...]
    }
    parts.append(Array(rest))
    return parts
}
