import BerthOCI
import Foundation
import Testing
@testable import BerthRegistryServer

/// A registry server running in this process on a free port of 127.0.0.1, over a fresh root.
final class TestRegistry: @unchecked Sendable {
    let root: String
    let port: Int
    let scheme: String
    private let task: Task<Void, Error>

    static func start(
        access: AccessPolicy = AccessPolicy(), root: String? = nil, tls: (certificate: String, key: String)? = nil,
        uploadExpiration: TimeInterval = 3600, configure: (inout RegistryConfiguration) -> Void = { _ in }
    ) async throws -> TestRegistry {
        let root = root ?? makeTemporaryDirectory()
        var configuration = RegistryConfiguration(
            host: "127.0.0.1", port: 0, root: root, access: access, tls: tls, uploadExpiration: uploadExpiration)
        configure(&configuration)
        let server = try RegistryServer(configuration: configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            try await server.run { port in continuation.yield(port) }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("server did not start") }
        return TestRegistry(root: root, port: port, scheme: tls == nil ? "http" : "https", task: task)
    }

    private init(root: String, port: Int, scheme: String, task: Task<Void, Error>) {
        self.root = root
        self.port = port
        self.scheme = scheme
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    /// One HTTP request through curl (exact paths: `--path-as-is`, no `Expect: 100-continue`).
    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil, user: String? = nil,
        extraCurlArguments: [String] = []
    ) async throws -> HTTPResult {
        try await curl(method, "\(scheme)://127.0.0.1:\(port)\(path)", headers: headers, body: body, user: user,
                       extraArguments: extraCurlArguments)
    }

    // MARK: Conveniences over the endpoints

    /// Pushes a blob monolithically; returns its digest.
    @discardableResult
    func pushBlob(_ repository: String, _ content: Data, user: String? = nil) async throws -> Digest {
        let digest = Digest.sha256(of: content)
        let result = try await request(
            "POST", "/v2/\(repository)/blobs/uploads/?digest=\(digest)", headers: ["Content-Type": "application/octet-stream"],
            body: content, user: user)
        try #require(result.status == 201, "blob push answered \(result.status): \(result.text)")
        return digest
    }

    /// Pushes a config and one layer, then an image manifest under `tag`; returns the manifest.
    @discardableResult
    func pushImage(_ repository: String, tag: String, layer: Data = Data("layer".utf8), user: String? = nil) async throws
        -> (bytes: Data, digest: Digest) {
        let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configDigest = try await pushBlob(repository, config, user: user)
        let layerDigest = try await pushBlob(repository, layer, user: user)
        let manifest = Manifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(config.count)),
            layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: layerDigest, size: Int64(layer.count))])
        let bytes = try JSONEncoder().encode(manifest)
        let result = try await request(
            "PUT", "/v2/\(repository)/manifests/\(tag)", headers: ["Content-Type": MediaType.ociManifest], body: bytes, user: user)
        try #require(result.status == 201, "manifest push answered \(result.status): \(result.text)")
        return (bytes, Digest.sha256(of: bytes))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A response as curl saw it.
struct HTTPResult {
    var status: Int
    /// Header names lowercased; the last value wins.
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The first error code of an error body.
    var errorCode: String? {
        struct Body: Decodable { struct Entry: Decodable { var code: String }; var errors: [Entry] }
        return (try? JSONDecoder().decode(Body.self, from: body))?.errors.first?.code
    }

    func json() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
    }
}

func makeTemporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "berth-registry-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func curl(
    _ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil, user: String? = nil,
    extraArguments: [String] = []
) async throws -> HTTPResult {
    let scratch = makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    var arguments = ["-sS", "--path-as-is", "-D", "\(scratch)/headers", "-o", "\(scratch)/body", "-w", "%{http_code}", "-H", "Expect:"]
    arguments += method == "HEAD" ? ["--head"] : ["-X", method]
    for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
    if let body {
        try body.write(to: URL(fileURLWithPath: "\(scratch)/request"))
        arguments += ["--data-binary", "@\(scratch)/request"]
    } else if ["PUT", "POST", "PATCH"].contains(method) {
        arguments += ["-H", "Content-Length: 0"]
    }
    if let user { arguments += ["-u", user] }
    arguments += extraArguments + [url]
    let (status, output) = try await runProcess("/usr/bin/curl", arguments)
    guard status == 0, let code = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("curl \(method) \(url) failed (exit \(status)): \(output)")
    }
    var responseHeaders: [String: String] = [:]
    let headerText = (try? String(contentsOfFile: "\(scratch)/headers", encoding: .utf8)) ?? ""
    for line in headerText.components(separatedBy: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        responseHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    // curl --head writes the headers where the body would go.
    let responseBody = method == "HEAD" ? Data() : FileManager.default.contents(atPath: "\(scratch)/body") ?? Data()
    return HTTPResult(status: code, headers: responseHeaders, body: responseBody)
}

/// Runs a program to completion without blocking a thread of the concurrency pool (the server
/// under test answers on that pool). Returns the exit status and standard output + error.
func runProcess(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    return try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { process in
            let data = output.fileHandleForReading.readDataToEndOfFile()
            continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
        }
        do {
            try process.run()
            if let input {
                inputPipe.fileHandleForWriting.write(input)
                try? inputPipe.fileHandleForWriting.close()
            }
        } catch {
            continuation.resume(throwing: error)
        }
    }
}

/// Runs `body` against a fresh registry and stops the registry afterwards, also on failure.
func withRegistry(
    access: AccessPolicy = AccessPolicy(), root: String? = nil, tls: (certificate: String, key: String)? = nil,
    configure: (inout RegistryConfiguration) -> Void = { _ in }, _ body: (TestRegistry) async throws -> Void
) async throws {
    let registry = try await TestRegistry.start(access: access, root: root, tls: tls, configure: configure)
    do {
        try await body(registry)
    } catch {
        await registry.stop()
        throw error
    }
    await registry.stop()
}
