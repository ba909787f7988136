import BerthDistribution
import BerthOCI
import Foundation
import Testing
@testable import BerthRegistryServer

/// Blob GETs on plain HTTP go out with sendfile (`FileRegionHandler`; for these loopback clients
/// because the tests turn `sendfileToLoopback` on); these check the bytes, the headers and that the
/// blob's file descriptor is closed on every path.
@Suite struct BlobSendfileTests {
    @Test func fullAndRangeGetsOfAMultiMiBBlobMatchTheStoredFile() async throws {
        try await withSendfileRegistry { registry in
            let content = pseudoRandomBytes(5 << 20 + 12_345)
            let digest = try await registry.pushBlob("send/file", content)
            let stored = try #require(FileManager.default.contents(atPath: registry.blobPath(digest)))
            #expect(stored == content)
            let path = "/v2/send/file/blobs/\(digest)"

            let full = try await registry.request("GET", path)
            #expect(full.status == 200)
            #expect(full.body == stored)
            #expect(full.header("Content-Length") == String(content.count))
            #expect(full.header("Docker-Content-Digest") == digest.description)
            #expect(full.header(FileTransfers.header) == nil)

            let size = content.count
            for (first, last) in [(0, 0), (1, 4_096), (262_143, 262_145), (1_048_575, 3_500_000), (size - 7, size - 1)] {
                let range = try await registry.request("GET", path, headers: ["Range": "bytes=\(first)-\(last)"])
                #expect(range.status == 206)
                #expect(range.header("Content-Range") == "bytes \(first)-\(last)/\(size)")
                #expect(range.header("Content-Length") == String(last - first + 1))
                #expect(range.body == stored[first...last])
            }
            let openEnded = try await registry.request("GET", path, headers: ["Range": "bytes=4000000-"])
            #expect(openEnded.body == stored[4_000_000...])
            let suffix = try await registry.request("GET", path, headers: ["Range": "bytes=-70000"])
            #expect(suffix.body == stored.suffix(70_000))

            let head = try await registry.request("HEAD", path)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == String(size))
            #expect(head.header("Docker-Content-Digest") == digest.description)
            #expect(head.header(FileTransfers.header) == nil)
            let headRange = try await registry.request("HEAD", path, headers: ["Range": "bytes=10-19"])
            #expect(headRange.status == 206)
            #expect(headRange.header("Content-Length") == "10")

            let unsatisfiable = try await registry.request("GET", path, headers: ["Range": "bytes=\(size)-"])
            #expect(unsatisfiable.status == 416)
            #expect(unsatisfiable.header("Content-Range") == "bytes */\(size)")

            // Several blobs over one kept-alive connection (curl fetches the URLs in turn).
            let twice = try await runProcess("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{size_download} ",
                                                               registry.url(path), registry.url(path)])
            #expect(twice.0 == 0)
            #expect(twice.1 == "\(size) \(size) ")
            #expect(await eventually { openDescriptors(of: registry.blobPath(digest)) == 0 })
        }
    }

    @Test func clientDisconnectingMidBodyLeavesNoOpenDescriptor() async throws {
        try await withSendfileRegistry { registry in
            let content = pseudoRandomBytes(32 << 20)
            let digest = try await registry.pushBlob("send/cut", content)
            let blob = registry.blobPath(digest)
            // A slow reader that gives up after a second: the server is mid-body when the socket
            // closes, unless the socket's buffers took the whole blob first (seen on a loaded host).
            let finished = Completion()
            let cut = Task {
                defer { finished.set() }
                return try await runProcess("/usr/bin/curl", [
                    "-sS", "--limit-rate", "200K", "--max-time", "1", "-o", "/dev/null", registry.url("/v2/send/cut/blobs/\(digest)"),
                ])
            }
            #expect(await eventually { openDescriptors(of: blob) == 1 || finished.isSet }, "the server never opened the blob")
            let (status, _) = try await cut.value
            #expect(status == 28, "curl should have timed out mid-body")
            #expect(await eventually { openDescriptors(of: blob) == 0 }, "the blob's descriptor stayed open after the client left")

            // The server goes on serving.
            #expect(try await registry.request("GET", "/v2/send/cut/blobs/\(digest)").body == content)
            #expect(await eventually { openDescriptors(of: blob) == 0 })
        }
    }

    @Test func blobRemovedMidTransferIsStillSentWhole() async throws {
        try await withSendfileRegistry { registry in
            let content = pseudoRandomBytes(24 << 20)
            let digest = try await registry.pushBlob("send/gone", content)
            let blob = registry.blobPath(digest)
            let path = "/v2/send/gone/blobs/\(digest)"
            let finished = Completion()
            let download = Task {
                defer { finished.set() }
                return try await registry.request("GET", path, extraCurlArguments: ["--limit-rate", "8M"])
            }
            // The file goes once the server has it open (or, if the socket's buffers took the whole
            // blob at once, has sent it): either way the client must get every byte.
            #expect(await eventually { openDescriptors(of: blob) == 1 || finished.isSet }, "the server never opened the blob")
            // What garbage collection does to an unreferenced blob: unlink its file.
            #expect(try await registry.request("DELETE", path).status == 202)
            #expect(unlink(blob) == 0)
            let result = try await download.value
            #expect(result.status == 200)
            #expect(result.body == content)
            #expect(await eventually { openDescriptors(of: blob) == 0 })
            #expect(try await registry.request("GET", path).status == 404)
        }
    }

    /// Under TLS blobs are read into buffers (NIOSSL takes no file regions): same bytes, same headers.
    @Test func tlsServesBlobsThroughBuffers() async throws {
        let directory = makeTemporaryDirectory()
        let (status, output) = try await runProcess("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(directory)/key.pem", "-out", "\(directory)/cert.pem",
        ])
        try #require(status == 0, "openssl failed: \(output)")
        let trust = ["--cacert", "\(directory)/cert.pem"]
        try await withRegistry(tls: ("\(directory)/cert.pem", "\(directory)/key.pem")) { registry in
            let content = pseudoRandomBytes(3 << 20 + 999)
            let digest = Digest.sha256(of: content)
            let path = "/v2/tls/blob/blobs/\(digest)"
            let pushed = try await registry.request(
                "POST", "/v2/tls/blob/blobs/uploads/?digest=\(digest)", body: content, extraCurlArguments: trust)
            #expect(pushed.status == 201)
            let full = try await registry.request("GET", path, extraCurlArguments: trust)
            #expect(full.status == 200)
            #expect(full.body == content)
            #expect(full.header(FileTransfers.header) == nil)
            let range = try await registry.request("GET", path, headers: ["Range": "bytes=258000-2000000"], extraCurlArguments: trust)
            #expect(range.status == 206)
            #expect(range.body == content[258_000...2_000_000])
            #expect(await eventually { openDescriptors(of: registry.blobPath(digest)) == 0 })
        }
    }

    @Test func accessControlStillDecidesBeforeAnyBlobByte() async throws {
        let access = try await AccessControlTests().policy()
        try await withSendfileRegistry(access: access) { registry in
            let content = pseudoRandomBytes(3 << 20)
            let digest = try await registry.pushBlob("private/blob", content, user: "alice:alice-secret")
            let path = "/v2/private/blob/blobs/\(digest)"
            let anonymous = try await registry.request("GET", path)
            #expect(anonymous.status == 401)
            #expect(anonymous.errorCode == "UNAUTHORIZED")
            let bob = try await registry.request("GET", path, user: "bob:bob-secret")
            #expect(bob.status == 403)
            #expect(bob.errorCode == "DENIED")
            #expect(try await registry.request("HEAD", path, user: "bob:bob-secret").status == 403)
            let alice = try await registry.request("GET", path, headers: ["Range": "bytes=100-199"], user: "alice:alice-secret")
            #expect(alice.status == 206)
            #expect(alice.body == content[100...199])
        }
    }
}

/// `withRegistry` with sendfile for loopback clients too.
func withSendfileRegistry(access: AccessPolicy = AccessPolicy(), _ body: (TestRegistry) async throws -> Void) async throws {
    try await withRegistry(access: access, configure: { $0.sendfileToLoopback = true }, body)
}

extension TestRegistry {
    func blobPath(_ digest: Digest) -> String { "\(root)/blobs/\(digest.algorithm)/\(digest.encoded)" }
    func url(_ path: String) -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }
}

/// Descriptors of this process (the server runs in it) open on `path`, also after an unlink.
func openDescriptors(of path: String) -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter { entry in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)") else { return false }
        return target == path || target == "\(path) (deleted)"
    }.count
}

/// Whether a concurrent step has finished, for a test to poll.
final class Completion: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    var isSet: Bool { lock.withLock { done } }

    func set() { lock.withLock { done = true } }
}

/// Polls `condition` until it holds, for at most 20 seconds.
func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<400 {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 50_000_000)
    }
    return condition()
}

/// Bytes without a short period, so a range served from a wrong offset cannot match.
func pseudoRandomBytes(_ count: Int) -> Data {
    var words = [UInt64](repeating: 0, count: count / 8 + 1)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
    for index in words.indices {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        words[index] = state
    }
    return words.withUnsafeBytes { Data($0.prefix(count)) }
}
