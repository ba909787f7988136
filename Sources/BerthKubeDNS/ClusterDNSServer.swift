import BerthKubeAPI
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The cluster DNS: answers cluster names from an index the store's watches keep (Services,
/// EndpointSlices, pods) and forwards every other name to the host's resolvers, relaying their
/// answer as it comes. Serves DNS over UDP and TCP (RFC 1035 §4.2, RFC 7766) on one address.
public final class ClusterDNSServer: Sendable {
    /// The UDP payload size offered in EDNS0 answers (the DNS flag day 2020 value).
    public static let ednsPayloadSize: UInt16 = 1232

    private let store: KubeObjectStore
    private let records: ClusterDNSRecords
    private let index = Mutex(ClusterDNSIndex())
    private let forwarder: DNSForwarder
    private let group: any EventLoopGroup
    /// How long a TCP client may stay silent before its connection is closed (CoreDNS's default;
    /// RFC 7766 §6.2.3 asks servers to close idle connections).
    private let tcpIdleTimeout: TimeAmount

    /// `resolvConf` names the upstream servers (the host's resolv.conf by default).
    public init(store: KubeObjectStore, resolvConf: String = "/etc/resolv.conf", tcpIdleTimeout: TimeAmount = .seconds(10),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.store = store
        self.tcpIdleTimeout = tcpIdleTimeout
        records = ClusterDNSRecords(network: store.clusterNetwork)
        forwarder = DNSForwarder(servers: DNSForwarder.nameServers(resolvConf: resolvConf), group: group)
        self.group = group
    }

    /// Binds UDP and TCP on `host`:`port`, then serves until cancelled. The address may not exist
    /// yet (the pods' bridge appears with the first pod): the sockets bind with IP_FREEBIND and
    /// receive once it does.
    public func run(host: String, port: Int) async throws {
        let freebind = ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: 15))
        let udp = try await DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(freebind, value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let tcp = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(freebind, value: 1)
            .bind(host: host, port: port) { [tcpIdleTimeout] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(IdleStateHandler(readTimeout: tcpIdleTimeout), IdleConnectionCloser())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.followStore() }
            group.addTask {
                try await udp.executeThenClose { inbound, outbound in
                    try await withThrowingDiscardingTaskGroup { queries in
                        for try await envelope in inbound {
                            queries.addTask {
                                guard let reply = await self.respond(Array(envelope.data.readableBytesView), overTCP: false) else { return }
                                try? await outbound.write(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply)))
                            }
                        }
                    }
                }
            }
            group.addTask {
                try await tcp.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { clients in
                        for try await connection in connections {
                            clients.addTask { try? await self.serve(connection) }
                        }
                    }
                }
            }
        }
    }

    /// One TCP client: length-prefixed messages in, one answer each.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var pending: [UInt8] = []
            for try await chunk in inbound {
                pending += chunk.readableBytesView
                while pending.count >= 2 {
                    let length = Int(pending[0]) << 8 | Int(pending[1])
                    guard pending.count >= 2 + length else { break }
                    let message = Array(pending[2..<2 + length])
                    pending.removeFirst(2 + length)
                    guard let reply = await respond(message, overTCP: true) else { continue }
                    try await outbound.write(ByteBuffer(bytes: [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply))
                }
            }
        }
    }

    /// The answer to one query's bytes; nil to drop it (not a query, or undecodable).
    public func respond(_ bytes: [UInt8], overTCP: Bool) async -> [UInt8]? {
        guard let query = try? DNSMessage(decoding: bytes), !query.isResponse else {
            guard bytes.count >= 12, bytes[2] & 0x80 == 0 else { return nil }
            var failure = DNSMessage(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
            failure.isResponse = true
            failure.responseCode = .formatError
            return failure.encoded()
        }
        let limit = overTCP ? 65535 : max(512, Int(min(query.opt?.class ?? 512, Self.ednsPayloadSize)))
        guard query.opcode == 0 else { return Self.failure(query, .notImplemented).encoded(limit: limit) }
        let snapshot = index.withLock { $0 }
        if let answer = records.answer(query, index: snapshot) { return answer.encoded(limit: limit) }
        if let relayed = await forwarder.forward(bytes, overTCP: overTCP, limit: limit) { return relayed }
        return Self.failure(query, .serverFailure).encoded(limit: limit)
    }

    private static func failure(_ query: DNSMessage, _ code: DNSResponseCode) -> DNSMessage {
        var response = DNSMessage(id: query.id)
        response.isResponse = true
        response.opcode = query.opcode
        response.recursionDesired = query.recursionDesired
        response.recursionAvailable = true
        response.responseCode = code
        response.questions = query.questions
        return response
    }

    // MARK: The index

    /// Keeps the index in step with the store: one watch per kind (each starts by replaying every
    /// object as ADDED); a watch that ends is opened again from a clean slate of its kind.
    private func followStore() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.follow(KubeResourceRegistry.services) { index, event, key in
                index.services[key] = event.type == .deleted ? nil : try? event.object.decode(Service.self)
            } reset: { $0.services = [:] } }
            group.addTask { await self.follow(KubeResourceRegistry.endpointSlices) { index, event, key in
                index.slices[key] = event.type == .deleted ? nil : try? event.object.decode(EndpointSlice.self)
            } reset: { $0.slices = [:] } }
            group.addTask { await self.follow(KubeResourceRegistry.pods) { index, event, key in
                index.pods[key] = event.type == .deleted ? nil : (try? event.object.decode(Pod.self)).flatMap(Self.podEntry)
            } reset: { $0.pods = [:] } }
        }
    }

    private func follow(_ resource: KubeResource, apply: @escaping @Sendable (inout ClusterDNSIndex, KubeWatchEvent, String) -> Void,
                        reset: @escaping @Sendable (inout ClusterDNSIndex) -> Void) async {
        while !Task.isCancelled {
            if let events = try? store.watch(resource, namespace: nil) {
                index.withLock { reset(&$0) }
                for await event in events where [.added, .modified, .deleted].contains(event.type) {
                    let key = "\(event.object.string("metadata", "namespace") ?? "")/\(event.object.string("metadata", "name") ?? "")"
                    index.withLock { apply(&$0, event, key) }
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// A pod's address as DNS publishes it: pods on the pod network that have not finished.
    private static func podEntry(_ pod: Pod) -> ClusterDNSIndex.PodEntry? {
        guard pod.spec.hostNetwork != true, let ip = pod.status?.podIP, !ip.isEmpty,
              !["Succeeded", "Failed"].contains(pod.status?.phase ?? "") else { return nil }
        return ClusterDNSIndex.PodEntry(namespace: pod.metadata.namespace ?? "", ip: ip)
    }
}

/// Closes a TCP connection its IdleStateHandler finds silent.
private final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.close(promise: nil)
    }
}
