import BerthKubeAPI
import NIOCore
import NIOHTTP1

/// Answers an upgrade request that is not upgraded. NIO's upgrade handler drops the request
/// it declines to upgrade (it never reaches the HTTP side), so the answer the router gives it
/// (the `Status` the client prints: no such pod or container, not running, 401) is written
/// here, and the connection closed.
enum KubeUpgradeRefusal {
    static func answer(_ head: HTTPRequestHead, on channel: any Channel, router: KubeRouter, user: KubeUser?) async {
        var headers: [String: String] = [:]
        for (name, value) in head.headers { headers[name.lowercased()] = headers[name.lowercased()].map { $0 + "," + value } ?? value }
        let request = KubeRequest(method: head.method.rawValue, uri: head.uri, headers: headers, body: [], user: user)
        guard case .full(let status, let contentType, let body, let extra) = await router.handle(request) else {
            try? await channel.close()
            return
        }
        let responseHeaders = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.count)),
                                           ("Cache-Control", "no-cache, private"), ("Connection", "close")] + extra)
        let responseHead = HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: responseHeaders)
        channel.write(HTTPServerResponsePart.head(responseHead), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        try? await channel.close()
    }

    /// An upgrader for a protocol no stream is served over yet: every request for it is answered as refused.
    struct Upgrader: NIOTypedHTTPServerProtocolUpgrader {
        let supportedProtocol: String
        let router: KubeRouter
        let identify: @Sendable (any Channel) async -> KubeUser?
        var requiredUpgradeHeaders: [String] { [] }

        func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                                  initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
            let router = router, identify = identify
            return channel.eventLoop.makeFutureWithTask {
                await answer(upgradeRequest, on: channel, router: router, user: await identify(channel))
                throw ChannelError.inappropriateOperationForState
            }
        }

        func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<KubeConnection> {
            channel.eventLoop.makeFailedFuture(ChannelError.inappropriateOperationForState)
        }
    }
}
