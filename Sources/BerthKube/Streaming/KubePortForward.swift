import BerthKubeAPI
import NIOCore
import NIOPosix

/// `pods/<name>/portforward` over SPDY (`portforward.k8s.io`), plain or tunnelled in WebSocket:
/// each forwarded connection is a pair of client streams with the same `requestID` header, a
/// `streamType: error` stream (which the server writes a failure to, then ends) and a
/// `streamType: data` stream carrying the connection's bytes both ways; both name the pod's
/// `port`. The pair is relayed to a connection the node opens in the pod.
struct KubePortForward: Sendable {
    let forwarder: any KubePodPortForwarder
    let namespace: String
    let pod: String

    /// The protocol `X-Stream-Protocol-Version` negotiates.
    static let protocolName = "portforward.k8s.io"

    /// Serves the session's streams until it ends.
    func serve(_ session: SPDYSession) async {
        var pending: [String: (data: SPDYStream?, error: SPDYStream?)] = [:]
        await withDiscardingTaskGroup { group in
            for await stream in session.incoming {
                guard let portText = stream.headers["port"], let port = UInt16(portText), port > 0,
                      let type = stream.headers["streamtype"], type == "data" || type == "error" else {
                    group.addTask { await stream.reset() }
                    continue
                }
                // Clients before request ids paired streams by id: error n, data n + 2.
                let requestID = stream.headers["requestid"] ?? String(type == "error" ? stream.id : stream.id - 2)
                var pair = pending[requestID] ?? (nil, nil)
                if type == "data" { pair.data = stream } else { pair.error = stream }
                guard let data = pair.data, let error = pair.error else {
                    pending[requestID] = pair
                    continue
                }
                pending[requestID] = nil
                let forwarder = forwarder, namespace = namespace, pod = pod
                group.addTask {
                    await Self.relay(data: data, error: error, port: port,
                                     connect: { try await forwarder.connect(namespace: namespace, pod: pod, port: port) })
                }
            }
        }
    }

    /// Connects and copies both ways until the pod's side ends (as the kubelet does); a failure
    /// goes to the error stream as text. Both streams end with FIN.
    static func relay(data: SPDYStream, error: SPDYStream, port: UInt16, connect: @Sendable () async throws -> Int32) async {
        do {
            let socket = try await connect()
            try await pipe(socket: socket, read: { await data.read() }, stopReading: { data.inbox.discard() },
                           send: { try await data.write($0) })
        } catch let failure {
            try? await error.write(Array("\(failure)".utf8))
        }
        data.inbox.discard()
        await data.close()
        await error.close()
    }

    /// Relays between the pod connection `socket` and a client stream (`read` gives the client's
    /// bytes until its end, `stopReading` ends a pending `read`, `send` writes to the client): the
    /// client's end half-closes the pod connection; the pod's end of the connection ends the relay.
    static func pipe(socket: Int32, read: @escaping @Sendable () async -> [UInt8]?, stopReading: @Sendable () -> Void,
                     send: @Sendable ([UInt8]) async throws -> Void) async throws {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .withConnectedSocket(socket) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel,
                                                               configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        try await connection.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while let chunk = await read() {
                        try await outbound.write(ByteBuffer(bytes: chunk))
                    }
                    outbound.finish()
                }
                defer {
                    stopReading()
                    group.cancelAll()
                }
                for try await buffer in inbound {
                    try await send(Array(buffer.readableBytesView))
                }
            }
        }
    }
}
