import BerthKubeAPI
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// exec and attach over WebSocket (`Upgrade: websocket` with a channel subprotocol, what
/// kubectl 1.32 and the Python client's `stream` speak). The upgrade is decided on the
/// connection's first request: the stream is started before the 101 goes out, so a request
/// that cannot stream (no such pod or container, not running, no certificate) is not upgraded
/// but answered with the router's `Status`, which the client prints.
struct PodStreamWebSocket: Sendable {
    /// The largest message a client may send (gorilla, under kubectl, splits big ones in frames).
    static let maximumFrameSize = 8 << 20

    let session: KubePodStreamSession
    let `protocol`: KubeChannelProtocol

    /// The upgrader of one connection: it hands its stream to the connection's `.webSocket` result.
    static func upgrader(router: KubeRouter, identify: @escaping @Sendable (any Channel) async -> KubeUser?)
        -> NIOTypedWebSocketServerUpgrader<KubeConnection> {
        let started = Mutex<PodStreamWebSocket?>(nil)
        return NIOTypedWebSocketServerUpgrader<KubeConnection>(
            maxFrameSize: maximumFrameSize,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeFutureWithTask {
                    let user = await identify(channel)
                    guard let stream = await start(head, router: router, user: user) else {
                        await KubeUpgradeRefusal.answer(head, on: channel, router: router, user: user)
                        return nil
                    }
                    started.withLock { $0 = stream }
                    var headers = HTTPHeaders()
                    if stream.protocol != .unnamed { headers.add(name: "Sec-WebSocket-Protocol", value: stream.protocol.rawValue) }
                    return headers
                }
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let frames = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                    guard let stream = started.withLock({ $0.take() }) else { throw ChannelError.inappropriateOperationForState }
                    return .webSocket(frames, stream)
                }
            })
    }

    /// The stream `head` asks for, started; nil when it is not one this serves or cannot stream.
    private static func start(_ head: HTTPRequestHead, router: KubeRouter, user: KubeUser?) async -> PodStreamWebSocket? {
        guard user != nil, let source = router.podStreams, head.method == .GET || head.method == .POST else { return nil }
        let request = KubeRequest(method: head.method.rawValue, uri: head.uri, headers: [:], body: [], user: user)
        guard let target = KubePodStreamPath(path: request.path), target.subresource != .portforward,
              let chosen = KubeChannelProtocol.negotiate(head.headers["Sec-WebSocket-Protocol"]),
              let streamRequest = try? request.podStreamRequest(target) else { return nil }
        let session = try? await (target.subresource == .exec ? source.exec(streamRequest) : source.attach(streamRequest))
        return session.map { PodStreamWebSocket(session: $0, protocol: chosen) }
    }

    /// Relays until the process ends (then its status goes on the error channel and the
    /// connection is closed) or the client goes (then the session is cancelled: an exec's
    /// processes are killed).
    func run(_ connection: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) async {
        let session = session, chosen = self.protocol
        let (frames, queue) = AsyncStream.makeStream(of: WebSocketFrame.self)
        let ended = EndFlag()
        let channel = connection.channel
        func message(_ channelNumber: UInt8, _ payload: [UInt8]) -> WebSocketFrame {
            WebSocketFrame(fin: true, opcode: chosen.isBase64 ? .text : .binary,
                           data: ByteBuffer(bytes: KubeChannelFraming.encode(channel: channelNumber, payload, protocol: chosen)))
        }
        try? await connection.executeThenClose { inbound, outbound in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The one writer: frames from the output, the status and pongs keep their order.
                    var failed = false
                    for await frame in frames where !failed {
                        do { try await outbound.write(frame) } catch { failed = true }
                    }
                    try? await channel.close()
                }
                group.addTask {
                    await withTaskGroup(of: Void.self) { outputs in
                        outputs.addTask { for await chunk in session.stdout { queue.yield(message(KubeChannelFraming.stdout, chunk)) } }
                        outputs.addTask { for await chunk in session.stderr { queue.yield(message(KubeChannelFraming.stderr, chunk)) } }
                    }
                    let exit = await session.exit
                    ended.set()
                    if let status = KubeChannelFraming.errorMessage(exit, protocol: chosen) {
                        queue.yield(message(KubeChannelFraming.error, status))
                    }
                    var code = ByteBuffer()
                    code.write(webSocketErrorCode: .normalClosure)
                    queue.yield(WebSocketFrame(fin: true, opcode: .connectionClose, data: code))
                    queue.finish()
                }
                await Self.read(inbound, session: session, protocol: chosen, replies: queue)
                if !ended.isSet { session.cancel() }
                await group.waitForAll()
            }
        }
        session.cancel()
    }

    /// The client's messages to the session, until it closes the connection or sends a close frame.
    private static func read(_ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, session: KubePodStreamSession,
                             protocol chosen: KubeChannelProtocol, replies: AsyncStream<WebSocketFrame>.Continuation) async {
        var pending: [UInt8] = []
        do {
            for try await frame in inbound {
                switch frame.opcode {
                case .ping:
                    replies.yield(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
                    continue
                case .connectionClose:
                    return
                case .binary, .text:
                    pending = Array(frame.unmaskedData.readableBytesView)
                case .continuation:
                    pending += frame.unmaskedData.readableBytesView
                default:
                    continue
                }
                guard frame.fin else { continue }
                defer { pending = [] }
                switch KubeChannelFraming.decode(pending, protocol: chosen) {
                case .data(KubeChannelFraming.stdin, let bytes)?:
                    if !bytes.isEmpty { session.write(bytes) }
                case .data(KubeChannelFraming.resize, let bytes)?:
                    if let size = KubeChannelFraming.terminalSize(bytes) { session.resize(size) }
                case .close(KubeChannelFraming.stdin)?:
                    session.closeInput()
                default:
                    break
                }
            }
        } catch {
            // The connection failed: the client is gone as when it closes.
        }
    }
}

/// A connection to the Kubernetes API after its first request: HTTP, or a stream it was upgraded to.
enum KubeConnection: Sendable {
    case http(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>)
    case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, PodStreamWebSocket)
    /// Any other upgraded connection (SPDY, port-forward over WebSocket): runs it until it ends.
    case upgraded(@Sendable () async -> Void)
}

/// Set once the process ended, so that the client's close that follows is not taken for leaving.
private final class EndFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() { value.store(true, ordering: .releasing) }
}
