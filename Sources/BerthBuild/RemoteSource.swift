import AsyncHTTPClient
import BerthOCI
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import Synchronization

/// ADD's remote sources (`ADD https://…/file /dst`), fetched as BuildKit's HTTP source does: on
/// every build (the step's cache key is the content's digest), into a file with mode 0600 whose
/// modification time is the response's Last-Modified, checked against `--checksum` when given.
enum RemoteSource {
    /// A downloaded file, ready to be copied like a context file.
    struct Download {
        var path: String
        /// The name the file gets under a destination directory: the URL path's last component.
        var name: String
        var digest: Digest
    }

    static func isURL(_ source: String) -> Bool {
        let lowered = source.lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// Git sources (`git@…`, `git://…`, `https://…/repo.git`), which berth does not fetch.
    static func isGit(_ source: String) -> Bool {
        let withoutFragment = source.split(separator: "#", maxSplits: 1).first.map(String.init) ?? source
        return source.hasPrefix("git@") || source.hasPrefix("git://")
            || (isURL(source) && withoutFragment.hasSuffix(".git"))
    }

    /// BuildKit's name for a download: the URL path's base name, `__unnamed__` when it has none.
    static func fileName(of url: String) -> String {
        let path = URL(string: url)?.path ?? ""
        let base = (path as NSString).lastPathComponent
        return base.isEmpty || base == "/" || base == "." ? "__unnamed__" : base
    }

    /// Fetches `url` into `directory`. A status other than 200, a transport error or a digest that
    /// differs from `checksum` fail the step with its file and line.
    static func fetch(_ url: String, into directory: String, checksum: Digest?, fileName: String,
                      line: Int) throws -> Download {
        let path = directory + "/" + UUID().uuidString.lowercased()
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw BuildError.io(operation: "create", path: path, errno: errno) }
        let delegate = DownloadDelegate(descriptor: descriptor)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: .init(connect: .seconds(30), read: .seconds(300)))
        // A refused connection fails the step at once, as BuildKit's does, instead of being
        // retried for the whole connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { try? client.syncShutdown() }
        let result: DownloadDelegate.Result
        do {
            let request = try HTTPClient.Request(url: url, method: .GET)
            result = try client.execute(request: request, delegate: delegate).wait()
            close(descriptor)
        } catch {
            close(descriptor)
            throw BuildError.download(url: url, reason: "\(error)", fileName: fileName, line: line)
        }
        if let reason = result.failure {
            throw BuildError.download(url: url, reason: reason, fileName: fileName, line: line)
        }
        guard result.status == .ok else {
            throw BuildError.download(url: url, reason: "invalid response status \(result.status.code)",
                                      fileName: fileName, line: line)
        }
        if let checksum, checksum != result.digest {
            throw BuildError.checksumMismatch(url: url, expected: checksum, actual: result.digest, fileName: fileName,
                                              line: line)
        }
        if let modified = result.lastModified {
            let seconds = Int(modified.timeIntervalSince1970)
            var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
            _ = utimensat(AT_FDCWD, path, &times, 0)
        }
        return Download(path: path, name: Self.fileName(of: url), digest: result.digest)
    }

    /// `Last-Modified` (RFC 7231's IMF-fixdate).
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}

/// Writes a response body to a file as it arrives, hashing it on the way. Only a 200 answer's
/// body is kept; its status, digest and Last-Modified are the result.
private final class DownloadDelegate: HTTPClientResponseDelegate, Sendable {
    struct Result {
        var status: HTTPResponseStatus
        var digest: Digest
        var lastModified: Date?
        var failure: String?
    }

    typealias Response = Result

    /// What the answer has shown so far. The client calls a delegate from one event loop at a
    /// time, so the lock is never contended; it makes the sharing checked.
    private struct Progress {
        var status = HTTPResponseStatus.ok
        var lastModified: Date?
        var digester = SHA256Digester()
        var failure: String?
    }

    private let descriptor: Int32
    private let progress = Mutex(Progress())

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func didReceiveHead(task: HTTPClient.Task<Result>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        progress.withLock {
            $0.status = head.status
            $0.lastModified = head.headers.first(name: "Last-Modified").flatMap(RemoteSource.parseHTTPDate)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Result>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        progress.withLock { progress in
            guard progress.status == .ok, progress.failure == nil else { return }
            buffer.withUnsafeReadableBytes { bytes in
                guard let base = bytes.baseAddress else { return }
                progress.digester.update(bytes)
                var written = 0
                while written < bytes.count {
                    let result = write(descriptor, base + written, bytes.count - written)
                    if result < 0 {
                        if errno == EINTR { continue }
                        progress.failure = "write: \(String(cString: strerror(errno)))"
                        return
                    }
                    written += result
                }
            }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Result>) throws -> Result {
        progress.withLock {
            Result(status: $0.status, digest: $0.digester.finalize(), lastModified: $0.lastModified, failure: $0.failure)
        }
    }
}
