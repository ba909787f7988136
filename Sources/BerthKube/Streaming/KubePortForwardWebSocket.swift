import BerthKubeAPI
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// `pods/<name>/portforward` over WebSocket, in the two forms clients speak:
/// - subprotocol `SPDY/3.1+portforward.k8s.io` (kubectl 1.32's default, KEP-4006): the SPDY
///   session of plain port-forward, its bytes carried in binary messages (message boundaries mean
///   nothing; the client sends SPDY pings every 10 s through it);
/// - `v4.channel.k8s.io` with `?ports=P1,P2…` (the Python client): one connection per port, made
///   when the WebSocket opens; port i's data travels on channel 2i and its errors on channel 2i+1,
///   each message's first byte naming the channel. The server's first message on each channel is the
///   channel and the port (2 bytes, little-endian).
struct KubePortForwardWebSocket: Sendable {
    enum Mode: Sendable, Equatable {
        case spdyTunnel
        case channels(ports: [UInt16])
    }

    static let tunnelProtocol = "SPDY/3.1+" + KubePortForward.protocolName
    static let channelProtocol = "v4.channel.k8s.io"

    let forwarder: any KubePodPortForwarder
    let target: KubePodStreamPath
    let mode: Mode

    /// The subprotocol to answer with and the mode, from the offered subprotocols (one header,
    /// comma-separated) and the request's query; nil when none fits.
    static func negotiate(offered: String?, query: [String: [String]]) -> (String, Mode)? {
        let protocols = (offered ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if protocols.contains(tunnelProtocol) { return (tunnelProtocol, .spdyTunnel) }
        let ports = (query["ports"] ?? []).flatMap { $0.split(separator: ",") }.compactMap { UInt16($0.trimmingCharacters(in: .whitespaces)) }
        guard !ports.isEmpty, !ports.contains(0) else { return nil }
        if protocols.contains(channelProtocol) { return (channelProtocol, .channels(ports: ports)) }
        return nil
    }

    /// Serves the connection until the client closes it (the tunnel), or until every port's
    /// connection ended (channels).
    func run(_ connection: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) async {
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, _ in
            switch mode {
            case .spdyTunnel:
                guard let session = try? SPDYSession(write: { bytes in
                    channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, data: bytes))
                }) else { return }
                let application = KubePortForward(forwarder: forwarder, namespace: target.namespace, pod: target.pod)
                await KubeSPDYUpgrader.run(session, inbound: Self.payloads(inbound, channel: channel)) {
                    await application.serve(session)
                }
            case .channels(let ports):
                await serveChannels(ports: ports, inbound: inbound, channel: channel)
            }
            try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose,
                                                            data: ByteBuffer(bytes: [0x03, 0xe8]))).get()
        }
    }

    /// The bytes of the client's data messages; pings are answered, a close ends the sequence.
    static func payloads(_ frames: NIOAsyncChannelInboundStream<WebSocketFrame>, channel: any Channel)
        -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await frame in frames {
                        switch frame.opcode {
                        case .binary, .continuation, .text:
                            continuation.yield(frame.unmaskedData)
                        case .ping:
                            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData), promise: nil)
                        case .connectionClose:
                            continuation.finish()
                            return
                        default:
                            break
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The channel protocol: a relay per port, the client's messages dispatched by channel byte.
    private func serveChannels(ports: [UInt16], inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, channel: any Channel) async {
        let writer = ChannelMessageWriter(channel: channel)
        let streams = ports.map { _ in SPDYInbox() }
        let forwarder = forwarder, target = target
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await frame in inbound {
                        switch frame.opcode {
                        case .binary, .continuation:
                            var data = frame.unmaskedData
                            guard let channelNumber = data.readInteger(as: UInt8.self) else { continue }
                            // Data channels are even; the client writes nothing on error channels.
                            let index = Int(channelNumber / 2)
                            guard channelNumber % 2 == 0, index < streams.count else { continue }
                            await streams[index].push(Array(data.readableBytesView))
                        case .ping:
                            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData), promise: nil)
                        case .connectionClose:
                            for stream in streams { stream.finish() }
                            return
                        default:
                            break
                        }
                    }
                } catch {}
                for stream in streams { stream.finish() }
            }
            group.addTask {
                await withTaskGroup(of: Void.self) { relays in
                    for (index, port) in ports.enumerated() {
                        let data = UInt8(2 * index), errors = UInt8(2 * index + 1)
                        relays.addTask {
                            let portBytes: [UInt8] = [UInt8(port & 0xff), UInt8(port >> 8)]
                            guard (try? await writer.send(channel: data, portBytes)) != nil,
                                  (try? await writer.send(channel: errors, portBytes)) != nil else { return }
                            do {
                                let socket = try await forwarder.connect(namespace: target.namespace, pod: target.pod, port: port)
                                let inbox = streams[index]
                                try await KubePortForward.pipe(socket: socket, read: { await inbox.next() }, stopReading: { inbox.discard() },
                                                               send: { try await writer.send(channel: data, $0) })
                            } catch {
                                try? await writer.send(channel: errors, Array("\(error)".utf8))
                            }
                            streams[index].discard()
                        }
                    }
                }
                // Every port's connection ended: the session is over.
                try? await channel.close()
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Writes channel-protocol messages: the channel byte, then the payload, in one binary message.
private struct ChannelMessageWriter: Sendable {
    let channel: any Channel

    func send(channel number: UInt8, _ payload: [UInt8]) async throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(number)
        buffer.writeBytes(payload)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, data: buffer)).get()
    }
}

extension KubePortForwardWebSocket {
    /// The largest message taken from a client (a tunnelled SPDY frame is at most 16 MiB).
    static let maximumFrameSize = 1 << 24

    /// Upgrades `pods/<name>/portforward` requests that offer one of the two subprotocols, from an
    /// authenticated client, for a pod running here; any other request stays HTTP.
    static func upgrader(router: KubeRouter, identify: @escaping @Sendable (any Channel) async -> KubeUser?)
        -> NIOTypedWebSocketServerUpgrader<KubeConnection> {
        NIOTypedWebSocketServerUpgrader<KubeConnection>(
            maxFrameSize: maximumFrameSize,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeFutureWithTask {
                    let user = await identify(channel)
                    guard let (forward, chosen) = accept(head, router: router, user: user),
                          (try? forward.forwarder.checkPortForward(namespace: forward.target.namespace, pod: forward.target.pod)) != nil else {
                        await KubeUpgradeRefusal.answer(head, on: channel, router: router, user: user)
                        return nil
                    }
                    return HTTPHeaders([("Sec-WebSocket-Protocol", chosen)])
                }
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let frames = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                    guard let (forward, _) = accept(head, router: router) else { throw ChannelError.inappropriateOperationForState }
                    return .upgraded { await forward.run(frames) }
                }
            })
    }

    /// The port-forward `head` asks for and the subprotocol chosen, when the router forwards ports.
    private static func accept(_ head: HTTPRequestHead, router: KubeRouter, user: KubeUser? = KubeUser(name: "", groups: []))
        -> (KubePortForwardWebSocket, String)? {
        let request = KubeRequest(method: head.method.rawValue, uri: head.uri, headers: [:], body: [], user: user)
        guard user != nil, let forwarder = router.portForwarder, let target = KubePodStreamPath(path: request.path),
              target.subresource == .portforward,
              let (chosen, mode) = negotiate(offered: head.headers["Sec-WebSocket-Protocol"].joined(separator: ","), query: request.query)
        else { return nil }
        return (KubePortForwardWebSocket(forwarder: forwarder, target: target, mode: mode), chosen)
    }
}
