import NIOCore
import Synchronization

/// The server end of a SPDY/3.1 connection, as Kubernetes' streaming protocols use it: the client
/// opens every stream (SYN_STREAM with the stream's headers), the server accepts it with an empty
/// SYN_REPLY, both sides send data frames and end their half with FIN.
///
/// Flow control: the session grants the client window (WINDOW_UPDATE per stream and for the whole
/// session, SPDY/3.1) as stream readers consume data, and holds back reading the connection while a
/// stream's reader is behind. It does not hold its own sends to the client's window: Kubernetes'
/// SPDY peers (moby/spdystream) never send WINDOW_UPDATE, so a sender that waited for one would stop
/// after the initial 64 KiB; backpressure towards the client is TCP's (each data write waits until
/// the connection took it).
final class SPDYSession: Sendable {
    private struct State {
        var encoder: SPDYFrameEncoder
        var streams: [UInt32: SPDYStream] = [:]
        var lastStreamID: UInt32 = 0
        var closed = false
    }

    /// Hands bytes to the connection (as they are, or in a WebSocket message for a tunnel); the
    /// future completes once written.
    private let write: @Sendable (ByteBuffer) -> EventLoopFuture<Void>
    private let state: Mutex<State>
    /// The client's streams, as they are accepted.
    let incoming: AsyncStream<SPDYStream>
    private let incomingContinuation: AsyncStream<SPDYStream>.Continuation

    init(write: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>) throws(SPDYError) {
        self.write = write
        state = Mutex(State(encoder: try SPDYFrameEncoder()))
        (incoming, incomingContinuation) = AsyncStream.makeStream()
    }

    /// Encodes and writes a frame. Encoding and handing the bytes to the channel happen under one
    /// lock, so frames reach the connection in the order their header blocks were compressed;
    /// the wait for the write (backpressure) happens outside it.
    func send(_ frame: SPDYFrame) async throws {
        let written: EventLoopFuture<Void>? = try state.withLock { state in
            guard !state.closed else { return nil }
            let bytes = try state.encoder.encode(frame)
            return write(ByteBuffer(bytes: bytes))
        }
        guard let written else { throw ChannelError.ioOnClosedChannel }
        try await written.get()
    }

    /// Reads and dispatches frames until the client closes the connection or sends GOAWAY.
    func readFrames<Bytes: AsyncSequence>(from inbound: Bytes) async throws where Bytes.Element == ByteBuffer {
        defer { shutdown() }
        let decoder = try SPDYFrameDecoder()
        for try await buffer in inbound {
            decoder.append(buffer.readableBytesView)
            while let frame = try decoder.next() {
                guard try await dispatch(frame) else { return }
            }
        }
    }

    /// Handles one frame; false when the session is over.
    private func dispatch(_ frame: SPDYFrame) async throws -> Bool {
        switch frame {
        case .synStream(let id, _, _, let flags, let headers):
            let accepted: SPDYStream? = state.withLock { state in
                // Client streams have odd ids that only increase.
                guard id % 2 == 1, id > state.lastStreamID, !state.closed else { return nil }
                state.lastStreamID = id
                let stream = SPDYStream(id: id, headers: headers, session: self)
                state.streams[id] = stream
                return stream
            }
            guard let accepted else {
                try await send(.rstStream(streamID: id, status: SPDYStatus.protocolError))
                return true
            }
            try await send(.synReply(streamID: id, flags: 0, headers: SPDYHeaderBlock()))
            if flags & SPDYFrame.flagFin != 0 { accepted.remoteFinished() }
            if flags & SPDYFrame.flagUnidirectional != 0 { accepted.localFinished() }
            incomingContinuation.yield(accepted)
        case .data(let id, let flags, let payload):
            guard let stream = stream(id) else { return true }
            await stream.inbox.push(payload)
            if flags & SPDYFrame.flagFin != 0 { stream.remoteFinished() }
        case .headers(let id, let flags, _):
            if flags & SPDYFrame.flagFin != 0 { stream(id)?.remoteFinished() }
        case .rstStream(let id, _):
            stream(id)?.wasReset()
        case .ping(let id):
            // Client pings have odd ids; answering with the same id is the reply.
            if id % 2 == 1 { try await send(.ping(id: id)) }
        case .goAway:
            return false
        case .settings, .windowUpdate, .synReply:
            break
        }
        return true
    }

    private func stream(_ id: UInt32) -> SPDYStream? {
        state.withLock { $0.streams[id] }
    }

    func forget(_ id: UInt32) {
        _ = state.withLock { $0.streams.removeValue(forKey: id) }
    }

    /// Ends every stream: readers get the end of their data, writers fail.
    func shutdown() {
        let streams = state.withLock { state in
            state.closed = true
            defer { state.streams = [:] }
            return Array(state.streams.values)
        }
        incomingContinuation.finish()
        for stream in streams { stream.inbox.discard() }
    }
}

/// One stream of a session: the client's headers, its data (`read`) and ours (`write`).
final class SPDYStream: Sendable {
    let id: UInt32
    let headers: SPDYHeaderBlock
    let inbox = SPDYInbox()
    private let session: SPDYSession
    private struct Halves {
        var local = false
        var remote = false
        var reset = false
        /// Bytes read and not yet granted back.
        var consumed = 0
    }
    private let halves = Mutex(Halves())

    init(id: UInt32, headers: SPDYHeaderBlock, session: SPDYSession) {
        self.id = id
        self.headers = headers
        self.session = session
    }

    /// The next bytes the client sent, or nil at its FIN (or a reset). What is read is granted
    /// back to the client as window, in steps of half the initial window.
    func read() async -> [UInt8]? {
        guard let chunk = await inbox.next() else { return nil }
        let grant = halves.withLock { halves -> UInt32? in
            halves.consumed += chunk.count
            guard halves.consumed >= Self.grantStep else { return nil }
            defer { halves.consumed = 0 }
            return UInt32(halves.consumed)
        }
        if let grant {
            try? await session.send(.windowUpdate(streamID: id, delta: grant))
            try? await session.send(.windowUpdate(streamID: 0, delta: grant))
        }
        return chunk
    }

    /// Half of SPDY/3.1's initial 64 KiB window.
    static let grantStep = 32 * 1024

    /// Sends bytes, returning once the connection took them; throws once the stream or the
    /// session is gone.
    func write(_ bytes: [UInt8]) async throws {
        guard !halves.withLock({ $0.local || $0.reset }) else { throw ChannelError.outputClosed }
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Self.maximumDataFrame)
            try await session.send(.data(streamID: id, flags: 0, payload: Array(bytes[offset..<end])))
            offset = end
        }
    }

    /// The most one data frame carries (far below the format's 16 MiB, so frames interleave).
    static let maximumDataFrame = 64 * 1024

    /// Ends our half with FIN.
    func close() async {
        let send = halves.withLock { halves in
            defer { halves.local = true }
            return !halves.local && !halves.reset
        }
        if send { try? await session.send(.data(streamID: id, flags: SPDYFrame.flagFin, payload: [])) }
        localFinished()
    }

    /// Abandons the stream (RST_STREAM CANCEL): the client stops sending and drops what it has.
    func reset() async {
        let send = halves.withLock { halves in
            defer { halves.reset = true }
            return !halves.reset && !(halves.local && halves.remote)
        }
        inbox.discard()
        session.forget(id)
        if send { try? await session.send(.rstStream(streamID: id, status: SPDYStatus.cancel)) }
    }

    func remoteFinished() {
        inbox.finish()
        let done = halves.withLock { halves in
            halves.remote = true
            return halves.local
        }
        if done { session.forget(id) }
    }

    func localFinished() {
        let done = halves.withLock { halves in
            halves.local = true
            return halves.remote
        }
        if done { session.forget(id) }
    }

    func wasReset() {
        halves.withLock { $0.reset = true }
        inbox.discard()
        session.forget(id)
    }
}
