import NIOCore
import NIOHTTP1

/// Drops the `Upgrade` header of a request no upgrader can take: one naming only protocols this
/// server does not upgrade to (a client offering `h2c`), or lacking the headers its protocol
/// needs. The request is then answered as the plain request it also is, as Go's net/http answers
/// it. NIO's upgrade handler would otherwise hold it for an upgrade that never comes, and the
/// client would wait forever.
final class UnhandledUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Each upgrader's protocol and the headers it needs, lowercased, as the upgrade handler
    /// matches them: in the request and named by `Connection`.
    private let connectionHeaders: [String: Set<String>]
    /// The headers RFC 6455 requires of a WebSocket handshake, which NIO's WebSocket upgrader
    /// checks itself (failing the upgrade, and with it the request, without them).
    private static let webSocketHeaders: Set<String> = ["sec-websocket-key", "sec-websocket-version"]

    init(upgraders: [any NIOTypedHTTPServerProtocolUpgrader<KubeConnection>]) {
        connectionHeaders = Dictionary(upgraders.map { ($0.supportedProtocol.lowercased(), Set($0.requiredUpgradeHeaders.map { $0.lowercased() })) },
                                       uniquingKeysWith: { first, _ in first })
    }

    /// Looks at the connection's first request head only, the one the upgrade handler sees, then
    /// leaves: after an upgrade what comes is no longer HTTP.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // Once passed on: a removed handler's context no longer reaches the next one.
        defer { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
        guard head.headers.contains(name: "upgrade") else {
            context.fireChannelRead(data)
            return
        }
        let names = Set(head.headers.map { $0.name.lowercased() })
        let connection = Set(head.headers[canonicalForm: "connection"].map { $0.lowercased() })
        let takeable = head.headers[canonicalForm: "upgrade"].contains { requested in
            let requested = requested.lowercased()
            guard let required = connectionHeaders[requested], required.isSubset(of: names), required.isSubset(of: connection) else { return false }
            return requested != "websocket" || Self.webSocketHeaders.isSubset(of: names)
        }
        if !takeable {
            head.headers.remove(name: "upgrade")
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
