import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One client connection: decodes HTTP/1.1 requests, hands each to the router with its body as
/// a stream, and serves them one at a time (a keep-alive connection's next request is read once
/// the response to this one ends). A handler may take the connection over (`hijack`), as
/// dockerd does for attach and exec: after the response head, both directions carry raw bytes.
final class APIConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart

    private enum State {
        case idle
        /// Receiving the body of a request whose handler runs.
        case receivingBody(RequestBody.Source)
        /// The body ended; the handler still runs.
        case responding
        /// The handler ended before the body: what is left of it is read and dropped.
        case discardingBody
        case hijacked
    }

    private let router: Router
    private var state = State.idle
    /// Parts that arrived for the next request while the current one was served.
    private var pending: [HTTPServerRequestPart] = []
    /// Whether the body's consumer wants more (its buffer is below the high watermark).
    private var bodyDemand = true

    init(router: Router) {
        self.router = router
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data), context: context)
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)):
            startRequest(head, context: context)
        case (.receivingBody(let source), .body(let buffer)):
            if case .stopProducing = source.yield(buffer) { bodyDemand = false }
        case (.receivingBody(let source), .end):
            source.finish()
            state = .responding
        case (.discardingBody, .end):
            state = .idle
        case (.discardingBody, _):
            break
        case (.responding, _), (.idle, _):
            pending.append(part)
        case (.receivingBody, .head), (.hijacked, _):
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .receivingBody where bodyDemand, .discardingBody, .idle:
            context.read()
        default:
            break
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .receivingBody(let source) = state { source.finish(APIConnectionError.clientDisconnected) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request (the decoder's errors) or a broken connection: nothing can be answered.
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Half-closed by the client before a hijack: no further request can come.
        if case ChannelEvent.inputClosed = event, case .idle = state { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let loopBound = NIOLoopBound(self, eventLoop: loop)
        let contextBound = NIOLoopBound(context, eventLoop: loop)
        let (body, source) = RequestBody.make(onDemand: {
            loop.execute {
                loopBound.value.bodyDemand = true
                if case .receivingBody = loopBound.value.state { contextBound.value.read() }
            }
        })
        state = .receivingBody(source)
        bodyDemand = true
        let response = ResponseWriter(channel: context.channel, head: head, takeOver: { input, responseHead in
            loopBound.value.hijack(context: contextBound.value, input: input, head: responseHead)
        })
        let router = router
        Task {
            await router.respond(to: head, body: body, response: response)
            await response.finishIfNeeded()
            loop.execute { loopBound.value.requestEnded(context: contextBound.value, keepAlive: response.keepsAlive) }
        }
    }

    private func requestEnded(context: ChannelHandlerContext, keepAlive: Bool) {
        switch state {
        case .hijacked:
            // The handler is done with the connection it took over (the container's output ended,
            // the exec finished): closing it tells the client so.
            context.close(promise: nil)
            return
        case .receivingBody(let source):
            source.finish()
            state = .discardingBody
        case .responding, .idle:
            state = .idle
        case .discardingBody:
            break
        }
        guard keepAlive else {
            context.close(promise: nil)
            return
        }
        while case .idle = state, !pending.isEmpty {
            receive(pending.removeFirst(), context: context)
        }
        if case .idle = state { context.read() } else if case .discardingBody = state { context.read() }
    }

    /// Takes the connection over: the decoder leaves the pipeline first (what it had read past
    /// the request goes to `input`), then the response head goes out through the encoder, which
    /// leaves next, and reads run freely from then on. A client sends its stdin as soon as it sees
    /// the head, so nothing it sends can reach the HTTP parser (and be lost there).
    func hijack(context: ChannelHandlerContext, input: HijackedInputHandler, head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state = .hijacked
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandler(input, position: .before(self))
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        return pipeline.removeHandler(name: APIServer.decoderName).flatMap {
            contextBound.value.channel.writeAndFlush(HTTPServerResponsePart.head(head))
        }.flatMap {
            contextBound.value.pipeline.syncOperations.removeHandler(name: APIServer.encoderName)
        }.flatMapThrowing {
            try contextBound.value.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            contextBound.value.read()
        }
    }
}

enum APIConnectionError: Error {
    case clientDisconnected
    case alreadyResponded
}

/// The raw bytes a client sends on a hijacked connection, as a stream; it ends when the client
/// closes its side of the connection (docker's CloseWrite at the end of stdin).
final class HijackedInputHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let continuation: AsyncStream<ByteBuffer>.Continuation

    init(continuation: AsyncStream<ByteBuffer>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if buffer.readableBytes > 0 { continuation.yield(buffer) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { continuation.finish() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}
