import BerthArchive
import BerthOCI
import BerthStore
import Foundation
import Glibc
import NIOCore

/// A range of a file as a request body: 1 MiB buffers read as the upload asks for them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let chunkSize = 1 << 20

    let path: String
    let offset: Int64
    let length: Int64
    /// Called with the byte count of each chunk handed to the connection.
    let progress: (@Sendable (Int) -> Void)?

    func makeAsyncIterator() -> Iterator {
        Iterator(path: path, position: offset, remaining: length, progress: progress)
    }

    final class Iterator: AsyncIteratorProtocol {
        let path: String
        var descriptor: Int32 = -1
        var position: Int64
        var remaining: Int64
        let progress: (@Sendable (Int) -> Void)?

        init(path: String, position: Int64, remaining: Int64, progress: (@Sendable (Int) -> Void)?) {
            self.path = path
            self.position = position
            self.remaining = remaining
            self.progress = progress
        }

        deinit { if descriptor >= 0 { close(descriptor) } }

        func next() async throws -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            if descriptor < 0 {
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw RegistryClientError.localFile(path: path, reason: String(cString: strerror(errno)))
                }
            }
            let wanted = Int(Swift.min(Int64(FileChunks.chunkSize), remaining))
            var buffer = ByteBufferAllocator().buffer(capacity: wanted)
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer in
                let n = pread(descriptor, pointer.baseAddress, wanted, off_t(position))
                guard n > 0 else {
                    throw RegistryClientError.localFile(
                        path: path, reason: n == 0 ? "file is shorter than expected" : String(cString: strerror(errno)))
                }
                return n
            }
            position += Int64(count)
            remaining -= Int64(count)
            progress?(count)
            return buffer
        }
    }
}

/// Checks a stored layer blob the way `berth load` does: its uncompressed content must hash to
/// the config's diff ID, and no entry may write outside the layer's root. Returns the layer's size as Docker reports it (the bytes of its files
/// and symlink targets).
func inspectLayer(at path: String, diffID: Digest, what: String) throws -> Int64 {
    let file: FileSource
    do {
        file = try FileSource(path: path)
    } catch {
        throw RegistryClientError.localFile(path: path, reason: "\(error)")
    }
    let hashing = HashingSource(try DecompressingSource(file))
    let total: Int64
    do {
        total = try Store.fileBytes(inLayer: hashing, what: what)
    } catch let error as StoreError {
        if case .unsafeLayer = error { throw error }
        throw RegistryClientError.protocolViolation("\(error)")
    }
    let actual = try hashing.drain()
    guard actual == diffID else {
        throw RegistryClientError.digestMismatch(what: "\(what) (diff ID)", expected: diffID, actual: actual)
    }
    return total
}
