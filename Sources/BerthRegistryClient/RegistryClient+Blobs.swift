import AsyncHTTPClient
import BerthDistribution
import BerthOCI
import BerthStore
import Foundation
import Glibc
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// Blobs larger than this are uploaded in chunks (PATCH with Content-Range), each this large.
    public static let chunkedUploadThreshold: Int64 = 64 << 20

    /// Whether the repository already has the blob (HEAD /v2/<name>/blobs/<digest>).
    public func blobExists(_ digest: Digest, in repository: String) async throws -> Bool {
        let path = "/v2/\(repository)/blobs/\(digest)"
        let response = try await send(.HEAD, path)
        switch response.status.code {
        case 200: return true
        case 404: return false
        default: throw await failure(response, url: url(path))
        }
    }

    /// How a blob got into the repository.
    public enum BlobUploadOutcome: Equatable, Sendable {
        case mounted(from: String)
        case uploaded
    }

    /// Puts a stored blob into the repository: a cross-repository mount from the first of
    /// `mountSources` that has it, else an upload (monolithic, or PATCH chunks of `chunkSize` when
    /// the blob is larger) streamed from the content store and checked by the registry
    /// against `?digest=`.
    public func uploadBlob(_ descriptor: Descriptor, from content: ContentStore, to repository: String,
                           mountSources: [String] = [], chunkSize: Int64 = chunkedUploadThreshold,
                           progress: (@Sendable (Int) -> Void)? = nil) async throws -> BlobUploadOutcome {
        var location: String?
        for source in mountSources where source != repository {
            let path = "/v2/\(repository)/blobs/uploads/?mount=\(descriptor.digest)&from=\(source)"
            let response = try await expect([201, 202], .POST, path, headers: ["Content-Length": "0"])
            _ = try? await response.body.collect(upTo: 1 << 20)
            if response.status.code == 201 { return .mounted(from: source) }
            // 202: the registry did not mount but opened an upload session to use instead.
            location = try uploadLocation(response)
            break
        }
        if location == nil {
            let response = try await expect([202], .POST, "/v2/\(repository)/blobs/uploads/", headers: ["Content-Length": "0"])
            _ = try? await response.body.collect(upTo: 1 << 20)
            location = try uploadLocation(response)
        }
        guard var location else { throw RegistryClientError.protocolViolation("no upload location") }
        let file = content.path(of: descriptor.digest)
        let size = descriptor.size
        if size > chunkSize {
            var offset: Int64 = 0
            while offset < size {
                let length = min(chunkSize, size - offset)
                let start = offset
                let headers: HTTPHeaders = [
                    "Content-Type": "application/octet-stream", "Content-Length": String(length),
                    "Content-Range": "\(start)-\(start + length - 1)",
                ]
                let response = try await expect([202], .PATCH, location, headers: headers) {
                    .stream(FileChunks(path: file, offset: start, length: length, progress: progress), length: .known(length))
                }
                _ = try? await response.body.collect(upTo: 1 << 20)
                location = try uploadLocation(response)
                offset += length
            }
            let response = try await expect([201], .PUT, Self.appendingQuery(location, "digest=\(descriptor.digest)"),
                                            headers: ["Content-Length": "0"])
            _ = try? await response.body.collect(upTo: 1 << 20)
        } else {
            let headers: HTTPHeaders = ["Content-Type": "application/octet-stream", "Content-Length": String(size)]
            let response = try await expect([201], .PUT, Self.appendingQuery(location, "digest=\(descriptor.digest)"),
                                            headers: headers) {
                .stream(FileChunks(path: file, offset: 0, length: size, progress: progress), length: .known(size))
            }
            _ = try? await response.body.collect(upTo: 1 << 20)
        }
        return .uploaded
    }

    /// Downloads a blob into the content store, hashing while streaming: it lands under its digest
    /// only when every byte matched, so a corrupt or truncated download stores nothing.
    public func downloadBlob(_ descriptor: Descriptor, from repository: String, into store: Store, holdingIn lease: Lease,
                             progress: (@Sendable (Int) -> Void)? = nil) async throws {
        // A blob already stored is held as it is (holding checks that it is still there).
        if (try? store.hold([.blob(descriptor.digest)], in: lease)) != nil { return }
        var attempt = 1
        while true {
            do {
                try await downloadOnce(descriptor, from: repository, into: store, holdingIn: lease, progress: progress)
                return
            } catch let error as RegistryClientError {
                guard case .unreachable = error, attempt < Self.attempts else { throw error }
            } catch {
                guard attempt < Self.attempts, Self.isTransient(error) else {
                    throw RegistryClientError.unreachable(url: url("/v2/\(repository)/blobs/\(descriptor.digest)"),
                                                          reason: Self.describe(error))
                }
            }
            try await Task.sleep(nanoseconds: UInt64(250_000_000) << UInt64(attempt))
            attempt += 1
        }
    }

    private func downloadOnce(_ descriptor: Descriptor, from repository: String, into store: Store, holdingIn lease: Lease,
                              progress: (@Sendable (Int) -> Void)?) async throws {
        // Keyed by digest: a concurrent pull of the same blob (here or in another process) waits
        // for this one and then finds it stored.
        guard let ingest = try await store.content.beginIngest(of: descriptor.digest) else {
            try store.hold([.blob(descriptor.digest)], in: lease)
            return
        }
        let temporary = ingest.path
        let fd = ingest.descriptor
        let response = try await expect([200], .GET, "/v2/\(repository)/blobs/\(descriptor.digest)")
        var digester = SHA256Digester()
        var count: Int64 = 0
        for try await buffer in response.body {
            count += Int64(buffer.readableBytes)
            guard count <= descriptor.size else {
                throw RegistryClientError.protocolViolation(
                    "blob \(descriptor.digest) is larger than the \(descriptor.size) bytes its descriptor gives")
            }
            try buffer.withUnsafeReadableBytes { bytes in
                digester.update(bytes)
                guard let base = bytes.baseAddress else { return }
                var written = 0
                while written < bytes.count {
                    let n = write(fd, base + written, bytes.count - written)
                    guard n > 0 else {
                        throw RegistryClientError.localFile(
                            path: temporary, reason: "write blob \(descriptor.digest.shortID): \(String(cString: strerror(errno)))")
                    }
                    written += n
                }
            }
            progress?(buffer.readableBytes)
        }
        let actual = digester.finalize()
        guard actual == descriptor.digest else {
            throw RegistryClientError.digestMismatch(what: "blob \(descriptor.digest.shortID)", expected: descriptor.digest, actual: actual)
        }
        guard count == descriptor.size else {
            throw RegistryClientError.protocolViolation("blob \(descriptor.digest) is \(count) bytes, its descriptor says \(descriptor.size)")
        }
        // Stored and held in one locked section: no collection comes between.
        try store.hold(in: lease) {
            try ingest.commit(as: descriptor.digest)
            return ((), [.blob(descriptor.digest)])
        }
    }

    /// The absolute URL of an upload session from a `Location` header (which may be relative).
    private func uploadLocation(_ response: HTTPClientResponse) throws -> String {
        guard let location = response.headers.first(name: "Location"), !location.isEmpty else {
            throw RegistryClientError.protocolViolation("upload answer without a Location header")
        }
        return url(location)
    }

    static func appendingQuery(_ url: String, _ item: String) -> String {
        url + (url.contains("?") ? "&" : "?") + item
    }
}
