import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One blob byte range a response sends straight from its file with `sendfile(2)`.
///
/// The responder opens the file and registers the transfer with `FileTransfers`; the response
/// head names it in an internal header, and `FileRegionHandler` (in the channel pipeline below
/// Hummingbird) takes the descriptor when that head goes by, writes it as a `FileRegion` and
/// reports the outcome here, which the response body awaits so the access log still covers the
/// whole transfer. The descriptor is closed exactly once: by the handler after the write
/// completes or fails, by `abandon` when the connection closed before the handler took it, or on
/// deinit when the response was dropped unsent.
final class FileTransfer: Sendable {
    let offset: Int64
    let length: Int64

    private enum State {
        /// Opened; nobody has taken the descriptor yet.
        case open(Int32)
        /// The pipeline handler owns the descriptor and will report the outcome.
        case sending
        case finished((any Error)?)
    }

    private struct Progress {
        var state: State
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let progress: Mutex<Progress>

    init(fd: Int32, offset: Int64, length: Int64) {
        progress = Mutex(Progress(state: .open(fd)))
        self.offset = offset
        self.length = length
    }

    deinit {
        progress.withLock { if case .open(let fd) = $0.state { close(fd) } }
    }

    /// Hands the descriptor to the pipeline handler; nil when the transfer was abandoned.
    func take() -> Int32? {
        progress.withLock { progress in
            guard case .open(let fd) = progress.state else { return nil }
            progress.state = .sending
            return fd
        }
    }

    /// The handler's report, once it has closed the descriptor.
    func finish(_ error: (any Error)?) {
        let waiter = progress.withLock { progress -> CheckedContinuation<Void, any Error>?? in
            guard case .sending = progress.state else { return nil }
            return Self.settle(&progress, error)
        }
        if let waiter { Self.resume(waiter, error) }
    }

    /// The connection closed: unless the handler already holds the descriptor, close it and fail.
    func abandon() {
        let error = FileTransferError.connectionClosed
        let waiter = progress.withLock { progress -> CheckedContinuation<Void, any Error>?? in
            guard case .open(let fd) = progress.state else { return nil }
            close(fd)
            return Self.settle(&progress, error)
        }
        if let waiter { Self.resume(waiter, error) }
    }

    /// Waits until the bytes have been handed to the socket (or the transfer failed).
    func completion() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = progress.withLock { progress -> (any Error)?? in
                guard case .finished(let error) = progress.state else {
                    progress.waiter = continuation
                    return nil
                }
                return .some(error)
            }
            if let outcome { Self.resume(continuation, outcome) }
        }
    }

    /// Records the outcome and returns the waiter to wake once the lock is released.
    private static func settle(_ progress: inout Progress, _ error: (any Error)?) -> CheckedContinuation<Void, any Error>? {
        progress.state = .finished(error)
        defer { progress.waiter = nil }
        return progress.waiter
    }

    private static func resume(_ waiter: CheckedContinuation<Void, any Error>?, _ error: (any Error)?) {
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume() }
    }
}

enum FileTransferError: Error, CustomStringConvertible {
    case connectionClosed

    var description: String { "the connection closed before the blob was sent" }
}

/// The transfers whose response heads have not reached the pipeline yet, by the number their head
/// carries. Entries are weak: a response dropped unsent frees its transfer (closing the file).
final class FileTransfers: Sendable {
    /// The internal response header naming a transfer; `FileRegionHandler` removes it.
    static let header = "Berth-File-Transfer"

    private final class Entry {
        weak var transfer: FileTransfer?
        init(_ transfer: FileTransfer) { self.transfer = transfer }
    }

    private struct Table {
        var entries: [UInt64: Entry] = [:]
        var next: UInt64 = 0
    }

    private let table = Mutex(Table())

    func register(_ transfer: FileTransfer) -> UInt64 {
        table.withLock { table in
            // Drop entries of responses that were never written, so the table stays small.
            if table.entries.count >= 64 { table.entries = table.entries.filter { $0.value.transfer != nil } }
            table.next += 1
            table.entries[table.next] = Entry(transfer)
            return table.next
        }
    }

    /// Removes and returns the transfer a response head names.
    func claim(_ key: UInt64) -> FileTransfer? {
        table.withLock { $0.entries.removeValue(forKey: key)?.transfer }
    }
}
