import BerthKubeAPI
import NIOCore
import NIOHTTP1
import X509

/// A connection once its first request is read: still HTTP, or handed over to a streaming
/// protocol after a `101 Switching Protocols`.
enum KubeConnection: Sendable {
    case http(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>)
    /// Runs the upgraded connection until it ends.
    case upgraded(@Sendable () async -> Void)
}

/// The streaming endpoints of pods, from a request's path.
struct KubePodStreamTarget: Sendable, Equatable {
    enum Kind: String, Sendable { case portforward, exec, attach }
    var kind: Kind
    var namespace: String
    var pod: String

    /// `/api/v1/namespaces/<ns>/pods/<name>/<portforward|exec|attach>`.
    init?(path: String) {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count == 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces", segments[4] == "pods",
              let kind = Kind(rawValue: segments[6]) else { return nil }
        self.kind = kind
        namespace = segments[3]
        pod = segments[5]
    }
}

/// `Upgrade: SPDY/3.1` (what kubectl falls back to when a WebSocket upgrade is refused): the
/// client lists the protocols it speaks in `X-Stream-Protocol-Version` headers and the answer
/// names the one chosen. A request this upgrader does not take (no client certificate, another
/// path, an unknown pod, no common protocol) stays HTTP, and the router answers it with the error.
struct KubeSPDYUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = KubeConnection

    let router: KubeRouter
    let authority: Certificate

    var supportedProtocol: String { "SPDY/3.1" }
    var requiredUpgradeHeaders: [String] { [] }

    static let protocolHeader = "X-Stream-Protocol-Version"

    /// The protocol both sides speak for `target`, in the client's order of preference.
    static func negotiate(_ target: KubePodStreamTarget, offered: [String]) -> String? {
        let served = target.kind == .portforward ? [KubePortForward.protocolName] : []
        return offered.first { served.contains($0) }
    }

    private static func offeredProtocols(_ head: HTTPRequestHead) -> [String] {
        head.headers[canonicalForm: protocolHeader].map(String.init)
    }

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                              initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let promise = channel.eventLoop.makePromise(of: HTTPHeaders.self)
        let router = router, authority = authority
        promise.completeWithTask {
            let request = KubeRequest(method: upgradeRequest.method.rawValue, uri: upgradeRequest.uri, headers: [:], body: [],
                                      user: await KubeServer.identity(channel, authority: authority))
            guard request.user != nil, let target = KubePodStreamTarget(path: request.path),
                  let chosen = Self.negotiate(target, offered: Self.offeredProtocols(upgradeRequest)) else {
                throw KubeAPIError.badRequest("not a SPDY streaming request")
            }
            switch target.kind {
            case .portforward:
                guard let forwarder = router.portForwarder else { throw KubeAPIError.unknownPath }
                try forwarder.checkPortForward(namespace: target.namespace, pod: target.pod)
            case .exec, .attach:
                throw KubeAPIError.unknownPath
            }
            var headers = initialResponseHeaders
            headers.add(name: Self.protocolHeader, value: chosen)
            return headers
        }
        return promise.futureResult
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<KubeConnection> {
        channel.eventLoop.makeCompletedFuture {
            let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            let session = try SPDYSession { channel.writeAndFlush($0) }
            guard let target = KubePodStreamTarget(path: KubeRequest(method: "POST", uri: upgradeRequest.uri, headers: [:], body: [], user: nil).path),
                  let forwarder = router.portForwarder else { throw KubeAPIError.unknownPath }
            let application = KubePortForward(forwarder: forwarder, namespace: target.namespace, pod: target.pod)
            return .upgraded {
                await Self.run(session, connection: connection) { await application.serve(session) }
            }
        }
    }

    /// Runs a session's frame reader and its application side by side; when either ends (the
    /// client went away, or the application is done) the other is cancelled and the connection closed.
    static func run(_ session: SPDYSession, connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
                    application: @escaping @Sendable () async -> Void) async {
        try? await connection.executeThenClose { inbound, _ in
            await run(session, inbound: inbound, application: application)
        }
    }

    static func run<Bytes: AsyncSequence & Sendable>(_ session: SPDYSession, inbound: Bytes,
                                                     application: @escaping @Sendable () async -> Void) async where Bytes.Element == ByteBuffer {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await session.readFrames(from: inbound) }
            group.addTask { await application() }
            await group.next()
            session.shutdown()
            group.cancelAll()
        }
    }
}
