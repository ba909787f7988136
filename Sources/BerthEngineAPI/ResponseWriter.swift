import BerthEngine
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Writes one response: whole, streamed (chunked, as dockerd streams logs, events and progress),
/// or by taking the connection over (attach, exec). Every response carries dockerd's headers
/// (`Api-Version`, `Docker-Experimental`, `Ostype`, `Server`).
public final class ResponseWriter: Sendable {
    private enum Phase {
        case notStarted
        case streaming
        case ended
        case hijacked
        /// A write failed or the handler failed mid-stream: the connection cannot be reused.
        case broken
    }

    let channel: any Channel
    private let requestHead: HTTPRequestHead
    /// Takes the connection over, sending the response head on the way (see `APIConnectionHandler.hijack`).
    private let takeOver: @Sendable (HijackedInputHandler, HTTPResponseHead) -> EventLoopFuture<Void>
    private let phase = Mutex(Phase.notStarted)

    init(channel: any Channel, head: HTTPRequestHead,
         takeOver: @escaping @Sendable (HijackedInputHandler, HTTPResponseHead) -> EventLoopFuture<Void>) {
        self.channel = channel
        self.requestHead = head
        self.takeOver = takeOver
    }

    /// Whether a response has begun: an error now can only end the connection.
    public var hasStarted: Bool { phase.withLock { if case .notStarted = $0 { false } else { true } } }

    /// Whether the connection may serve another request after this one.
    var keepsAlive: Bool {
        requestHead.isKeepAlive && phase.withLock { if case .ended = $0 { true } else { false } }
    }

    /// Completes when the client has gone away (or the connection was otherwise closed).
    public func clientGone() async {
        try? await channel.closeFuture.get()
    }

    public var isClientConnected: Bool { channel.isActive }

    // MARK: Whole responses

    public func send(_ status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) async throws {
        try begin(.ended)
        var head = responseHead(status, headers)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if let body, body.readableBytes > 0 { channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil) }
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
    }

    /// A JSON body as dockerd writes it (Go's encoder: a trailing newline, slashes not escaped).
    public func sendJSON(_ value: some Encodable, status: HTTPResponseStatus = .ok) async throws {
        try await send(status, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: try APIJSON.encode(value)))
    }

    /// dockerd's error body: `{"message": "…"}`.
    public func sendError(_ status: HTTPResponseStatus, message: String) async throws {
        try await sendJSON(["message": message], status: status)
    }

    public func sendStatus(_ status: HTTPResponseStatus) async throws {
        try await send(status)
    }

    // MARK: Streams

    /// Starts a chunked response; write its parts with `write`, end it with `end`.
    public func startStream(_ status: HTTPResponseStatus = .ok, contentType: String, headers: HTTPHeaders = [:]) async throws {
        try begin(.streaming)
        var all = headers
        all.replaceOrAdd(name: "Content-Type", value: contentType)
        try await channel.writeAndFlush(HTTPServerResponsePart.head(responseHead(status, all)))
    }

    public func write(_ buffer: ByteBuffer) async throws {
        do {
            try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)))
        } catch {
            phase.withLock { $0 = .broken }
            throw error
        }
    }

    /// One JSON message of a stream (pull progress, build output, events, stats), newline-ended.
    public func writeJSON(_ value: some Encodable) async throws {
        try await write(ByteBuffer(bytes: try APIJSON.encode(value)))
    }

    public func end() async throws {
        let streaming = phase.withLock { phase in
            guard case .streaming = phase else { return false }
            phase = .ended
            return true
        }
        if streaming { try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)) }
    }

    // MARK: Taking the connection over

    /// Answers `101 UPGRADED` (or, to a client that did not ask to upgrade, `200 OK`) and takes
    /// the connection over: from now on it carries raw bytes both ways.
    public func hijack(contentType: String) async throws -> HijackedConnection {
        try begin(.hijacked)
        let upgrade = requestHead.headers[canonicalForm: "Upgrade"].contains { $0.lowercased() == "tcp" }
        var headers: HTTPHeaders = ["Content-Type": contentType]
        if upgrade {
            headers.add(name: "Connection", value: "Upgrade")
            headers.add(name: "Upgrade", value: "tcp")
        }
        let head = responseHead(upgrade ? .switchingProtocols : .ok, headers)
        let (input, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let inputHandler = HijackedInputHandler(continuation: continuation)
        let takeOver = takeOver
        try await channel.eventLoop.flatSubmit { takeOver(inputHandler, head) }.get()
        return HijackedConnection(channel: channel, input: input)
    }

    // MARK: Internals

    func finishIfNeeded() async {
        let streaming = phase.withLock { phase in
            if case .notStarted = phase { phase = .broken }
            if case .streaming = phase { return true }
            return false
        }
        if streaming { try? await end() }
    }

    /// Marks the response as broken after a failure mid-stream.
    func abandon() {
        phase.withLock { phase in
            if case .hijacked = phase { return }
            phase = .broken
        }
    }

    private func begin(_ next: Phase) throws {
        try phase.withLock { phase in
            guard case .notStarted = phase else { throw APIConnectionError.alreadyResponded }
            phase = next
        }
    }

    private func responseHead(_ status: HTTPResponseStatus, _ headers: HTTPHeaders) -> HTTPResponseHead {
        var all = headers
        all.add(name: "Api-Version", value: APIVersion.current.description)
        all.add(name: "Docker-Experimental", value: "false")
        all.add(name: "Ostype", value: "linux")
        all.add(name: "Server", value: "Berth/\(Engine.version) (linux)")
        return HTTPResponseHead(version: requestHead.version, status: status, headers: all)
    }
}

/// A connection taken over by a handler: `input` is what the client sends, `write` sends to it.
public struct HijackedConnection: Sendable {
    let channel: any Channel
    public let input: AsyncStream<ByteBuffer>

    public func write(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
    }

    /// Ends the connection (the container's output ended, or the exec finished).
    public func close() async {
        try? await channel.close()
    }
}

/// JSON as dockerd writes it, with its keys in one order from one process to the next.
public enum APIJSON {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }
}
