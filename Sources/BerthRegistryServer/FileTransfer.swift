import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One blob byte range a response sends straight from its file with `sendfile(2)`.
///
/// The responder opens the file and registers the transfer with `FileTransfers`; the response
/// head names it in an internal header, and `FileRegionHandler` (in the channel pipeline below
/// Hummingbird) takes the descriptor when that head goes by, writes it as a `FileRegion` and
/// reports the outcome here, which the response body awaits so the access log still covers the
/// whole transfer. The descriptor is closed exactly once: by the handler after the write
/// completes or fails, by `abandon` when the connection closed before the handler took it, or on
/// deinit when the response was dropped unsent.
final class FileTransfer: @unchecked Sendable {
    let offset: Int64
    let length: Int64

    private enum State {
        /// Opened; nobody has taken the descriptor yet.
        case open(Int32)
        /// The pipeline handler owns the descriptor and will report the outcome.
        case sending
        case finished(Error?)
    }

    private let lock = NSLock()
    private var state: State
    private var waiter: CheckedContinuation<Void, Error>?

    init(fd: Int32, offset: Int64, length: Int64) {
        self.state = .open(fd)
        self.offset = offset
        self.length = length
    }

    deinit {
        if case .open(let fd) = state { close(fd) }
    }

    /// Hands the descriptor to the pipeline handler; nil when the transfer was abandoned.
    func take() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        guard case .open(let fd) = state else { return nil }
        state = .sending
        return fd
    }

    /// The handler's report, once it has closed the descriptor.
    func finish(_ error: Error?) {
        lock.lock()
        guard case .sending = state else {
            lock.unlock()
            return
        }
        settle(error)
    }

    /// The connection closed: unless the handler already holds the descriptor, close it and fail.
    func abandon() {
        lock.lock()
        guard case .open(let fd) = state else {
            lock.unlock()
            return
        }
        close(fd)
        settle(FileTransferError.connectionClosed)
    }

    /// Waits until the bytes have been handed to the socket (or the transfer failed).
    func completion() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            lock.lock()
            guard case .finished(let error) = state else {
                waiter = continuation
                lock.unlock()
                return
            }
            lock.unlock()
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }

    /// Records the outcome and wakes the waiter; called with the lock held, releases it.
    private func settle(_ error: Error?) {
        state = .finished(error)
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume() }
    }
}

enum FileTransferError: Error, CustomStringConvertible {
    case connectionClosed

    var description: String { "the connection closed before the blob was sent" }
}

/// The transfers whose response heads have not reached the pipeline yet, by the number their head
/// carries. Entries are weak: a response dropped unsent frees its transfer (closing the file).
final class FileTransfers: @unchecked Sendable {
    /// The internal response header naming a transfer; `FileRegionHandler` removes it.
    static let header = "Berth-File-Transfer"

    private final class Entry {
        weak var transfer: FileTransfer?
        init(_ transfer: FileTransfer) { self.transfer = transfer }
    }

    private let lock = NSLock()
    private var entries: [UInt64: Entry] = [:]
    private var next: UInt64 = 0

    func register(_ transfer: FileTransfer) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        // Drop entries of responses that were never written, so the table stays small.
        if entries.count >= 64 { entries = entries.filter { $0.value.transfer != nil } }
        next += 1
        entries[next] = Entry(transfer)
        return next
    }

    /// Removes and returns the transfer a response head names.
    func claim(_ key: UInt64) -> FileTransfer? {
        lock.lock()
        defer { lock.unlock() }
        return entries.removeValue(forKey: key)?.transfer
    }
}
