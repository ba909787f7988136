import BerthKubeAPI
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// `Upgrade: SPDY/3.1` (what kubectl falls back to when a WebSocket upgrade is refused): the
/// client lists the protocols it speaks in `X-Stream-Protocol-Version` headers and the answer
/// names the one chosen. A request that cannot stream (no client certificate, no such pod or
/// container, not running, no common protocol) is not upgraded but answered with the router's
/// `Status`. An exec or attach is started before the 101 goes out, so its failures are answered so too.
struct KubeSPDYUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = KubeConnection

    let router: KubeRouter
    let identify: @Sendable (any Channel) async -> KubeUser?
    /// The exec or attach started for this connection's request (upgraders are made per connection).
    private let started = StartedCommand()

    private final class StartedCommand: Sendable {
        let value = Mutex<(KubePodStreamSession, KubePodStreamRequest)?>(nil)
    }

    init(router: KubeRouter, identify: @escaping @Sendable (any Channel) async -> KubeUser?) {
        self.router = router
        self.identify = identify
    }

    var supportedProtocol: String { "SPDY/3.1" }
    var requiredUpgradeHeaders: [String] { [] }

    static let protocolHeader = "X-Stream-Protocol-Version"

    /// The protocol both sides speak for `target`, in the client's order of preference. Exec and
    /// attach are served with the v4 channel semantics (a JSON `Status` on the error stream); a
    /// client offering v5 offers v4 too.
    static func negotiate(_ target: KubePodStreamPath, offered: [String]) -> String? {
        let served = target.subresource == .portforward ? [KubePortForward.protocolName] : [KubeRemoteCommandSPDY.protocolName]
        return offered.first { served.contains($0) }
    }

    private static func offeredProtocols(_ head: HTTPRequestHead) -> [String] {
        head.headers[canonicalForm: protocolHeader].map(String.init)
    }

    private static func target(_ head: HTTPRequestHead, user: KubeUser?) -> (KubeRequest, KubePodStreamPath)? {
        let request = KubeRequest(method: head.method.rawValue, uri: head.uri, headers: [:], body: [], user: user)
        guard user != nil, head.method == .POST || head.method == .GET, let target = KubePodStreamPath(path: request.path) else { return nil }
        return (request, target)
    }

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                              initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let router = router, identify = identify, started = started
        return channel.eventLoop.makeFutureWithTask {
            let user = await identify(channel)
            do {
                guard let (request, target) = Self.target(upgradeRequest, user: user),
                      let chosen = Self.negotiate(target, offered: Self.offeredProtocols(upgradeRequest)) else {
                    throw KubeAPIError.badRequest("not a SPDY streaming request")
                }
                switch target.subresource {
                case .portforward:
                    guard let forwarder = router.portForwarder else { throw KubeAPIError.unknownPath }
                    try forwarder.checkPortForward(namespace: target.namespace, pod: target.pod)
                case .exec, .attach:
                    guard let source = router.podStreams else { throw KubeAPIError.unknownPath }
                    let streamRequest = try request.podStreamRequest(target)
                    let session = try await (target.subresource == .exec ? source.exec(streamRequest) : source.attach(streamRequest))
                    started.value.withLock { $0 = (session, streamRequest) }
                }
                var headers = initialResponseHeaders
                headers.add(name: Self.protocolHeader, value: chosen)
                return headers
            } catch {
                await KubeUpgradeRefusal.answer(upgradeRequest, on: channel, router: router, user: user)
                throw error
            }
        }
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<KubeConnection> {
        let router = router, started = started
        return channel.eventLoop.makeCompletedFuture {
            let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            let session = try SPDYSession { channel.writeAndFlush($0) }
            guard let (_, target) = Self.target(upgradeRequest, user: KubeUser(name: "", groups: [])) else {
                throw ChannelError.inappropriateOperationForState
            }
            let application: @Sendable () async -> Void
            if target.subresource == .portforward {
                guard let forwarder = router.portForwarder else { throw ChannelError.inappropriateOperationForState }
                let forward = KubePortForward(forwarder: forwarder, namespace: target.namespace, pod: target.pod)
                application = { await forward.serve(session) }
            } else {
                guard let (stream, request) = started.value.withLock({ $0.take() }) else { throw ChannelError.inappropriateOperationForState }
                let command = KubeRemoteCommandSPDY(session: stream, request: request)
                application = { await command.serve(session) }
            }
            return .upgraded { await Self.run(session, connection: connection, application: application) }
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

/// WebSocket upgrades by path: port-forward's (SPDY tunnel, Python's channels) or exec and
/// attach's. The upgrade handler takes one upgrader per protocol name.
struct KubeWebSocketUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = KubeConnection

    let streams: NIOTypedWebSocketServerUpgrader<KubeConnection>
    let portForward: NIOTypedWebSocketServerUpgrader<KubeConnection>

    var supportedProtocol: String { streams.supportedProtocol }
    var requiredUpgradeHeaders: [String] { streams.requiredUpgradeHeaders }

    private func upgrader(_ head: HTTPRequestHead) -> NIOTypedWebSocketServerUpgrader<KubeConnection> {
        let path = KubeRequest(method: head.method.rawValue, uri: head.uri, headers: [:], body: [], user: nil).path
        return KubePodStreamPath(path: path)?.subresource == .portforward ? portForward : streams
    }

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead,
                              initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        upgrader(upgradeRequest).buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<KubeConnection> {
        upgrader(upgradeRequest).upgrade(channel: channel, upgradeRequest: upgradeRequest)
    }
}
