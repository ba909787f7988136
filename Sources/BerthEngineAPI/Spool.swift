import BerthEngine
import Foundation
import NIOCore

/// Request-body and temporary-file helpers for the endpoints that take or give archives.
enum Spool {
    /// Writes the request's body to `path` as it arrives.
    static func write(_ body: RequestBody, to path: String) async throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw EngineError(.system, "create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        for try await buffer in body {
            try buffer.withUnsafeReadableBytes { bytes in
                guard let base = bytes.baseAddress else { return }
                var offset = 0
                while offset < bytes.count {
                    let count = Glibc.write(descriptor, base + offset, bytes.count - offset)
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { throw EngineError(.system, "write \(path): \(String(cString: strerror(errno)))") }
                    offset += count
                }
            }
        }
    }

    /// Sends the file at `path` as the body of a streamed response.
    static func send(_ path: String, to response: ResponseWriter) async throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw EngineError(.system, "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            try await response.write(ByteBuffer(bytes: buffer[0..<count]))
        }
    }
}
