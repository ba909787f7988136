import Synchronization

/// The bytes a peer sent on one stream, waiting for their reader. Bounded: the session's frame
/// reader waits in `push` while `limit` bytes are queued, which stops it reading the connection,
/// so a slow reader slows the sender through TCP instead of filling memory.
final class SPDYInbox: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var queued = 0
        var finished = false
        var reader: CheckedContinuation<[UInt8]?, Never>?
        var writers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int = 1 << 20) {
        self.limit = limit
    }

    /// Queues `chunk`, returning once the queue is below its limit again (or the inbox is closed:
    /// its bytes are then dropped).
    func push(_ chunk: [UInt8]) async {
        guard !chunk.isEmpty else { return }
        await withCheckedContinuation { (writer: CheckedContinuation<Void, Never>) in
            let (reader, resumeWriter) = state.withLock { state -> (CheckedContinuation<[UInt8]?, Never>?, Bool) in
                if state.finished { return (nil, true) }
                if let reader = state.reader {
                    state.reader = nil
                    return (reader, true)
                }
                state.chunks.append(chunk)
                state.queued += chunk.count
                if state.queued < limit { return (nil, true) }
                state.writers.append(writer)
                return (nil, false)
            }
            reader?.resume(returning: chunk)
            if resumeWriter { writer.resume() }
        }
    }

    /// No more bytes will come: the reader gets what is queued, then nil.
    func finish() {
        // A waiting reader means nothing is queued.
        let reader = state.withLock { state in
            state.finished = true
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume(returning: nil)
    }

    /// The reader is gone: drop what is queued and what comes later, and release a waiting writer.
    func discard() {
        let (reader, writers) = state.withLock { state in
            state.finished = true
            state.chunks = []
            state.head = 0
            state.queued = 0
            defer { state.reader = nil; state.writers = [] }
            return (state.reader, state.writers)
        }
        reader?.resume(returning: nil)
        for writer in writers { writer.resume() }
    }

    /// The next chunk, or nil once finished and drained. One reader at a time.
    func next() async -> [UInt8]? {
        await withCheckedContinuation { (reader: CheckedContinuation<[UInt8]?, Never>) in
            let (chunk, ready, writers) = state.withLock { state -> ([UInt8]?, Bool, [CheckedContinuation<Void, Never>]) in
                guard state.head < state.chunks.count else {
                    if state.finished { return (nil, true, []) }
                    state.reader = reader
                    return (nil, false, [])
                }
                let chunk = state.chunks[state.head]
                state.head += 1
                state.queued -= chunk.count
                if state.head == state.chunks.count {
                    state.chunks = []
                    state.head = 0
                }
                guard state.queued < limit else { return (chunk, true, []) }
                defer { state.writers = [] }
                return (chunk, true, state.writers)
            }
            for writer in writers { writer.resume() }
            if ready { reader.resume(returning: chunk) }
        }
    }
}
