import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's plain HTTP/1 child channel (the pipeline of its `HTTP1Channel` with the default
/// configuration, larger reads) plus `FileRegionHandler` between NIO's HTTP/1 encoder and the HTTP-types codec:
/// Hummingbird's body writer only takes byte buffers, and that is the one place in the pipeline
/// where a body part may be a `FileRegion`, which NIO writes with `sendfile(2)`.
struct FileServingHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let transfers: FileTransfers

    static func builder(transfers: FileTransfers) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in FileServingHTTP1Channel(responder: responder, transfers: transfers) }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let decoder = HTTP1Channel.Configuration().httpDecoder
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = decoder.maxHeaderFieldSize
            limits.maxHeaderListSize = decoder.maxHeaderListSize
            limits.maxHeaderFieldCount = decoder.maxHeaderFieldCount
            // Reads of up to 256 KiB instead of NIO's 64 KiB: a blob upload then costs a quarter of
            // the read calls, pipeline passes and wake-ups of the task that writes it. The
            // allocator grows only on connections whose reads fill their buffers.
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 << 10))
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(FileRegionHandler(transfers: transfers))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(ExpectContinueHandler())
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

/// Turns a response head that names a `FileTransfer` (the `FileTransfers.header` field, removed
/// here) into that head followed by the transfer's byte range as a `FileRegion`; the response's
/// own body is empty. Everything else passes through.
final class FileRegionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let transfers: FileTransfers

    init(transfers: FileTransfers) {
        self.transfers = transfers
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), let key = head.headers.first(name: FileTransfers.header) else {
            context.write(data, promise: promise)
            return
        }
        head.headers.remove(name: FileTransfers.header)
        guard let number = UInt64(key), let transfer = transfers.claim(number), let fd = transfer.take() else {
            // The head promises a Content-Length that nothing can deliver now: end the connection.
            promise?.fail(FileTransferError.connectionClosed)
            context.close(promise: nil)
            return
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
        let region = FileRegion(
            fileHandle: handle, readerIndex: Int(transfer.offset), endIndex: Int(transfer.offset + transfer.length))
        let sent = context.eventLoop.makePromise(of: Void.self)
        // Completes on success and on every failure, a closed connection included.
        sent.futureResult.whenComplete { result in
            try? handle.close()
            if case .failure(let error) = result { transfer.finish(error) } else { transfer.finish(nil) }
        }
        context.writeAndFlush(wrapOutboundOut(.body(.fileRegion(region))), promise: sent)
    }
}

/// Answers `Expect: 100-continue` with an interim `100 Continue`, which NIO and Hummingbird leave
/// to the application. A client that asks (curl does, for any body over 1 KiB) otherwise waits a
/// second before sending the body of every upload. A request refused later still gets its final
/// status, and its body is read and dropped as any unread body is.
final class ExpectContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let request) = unwrapInboundIn(data),
           request.headerFields[values: .expect].contains(where: { $0.lowercased() == "100-continue" }) {
            context.writeAndFlush(NIOAny(HTTPResponsePart.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}
