import Foundation
import NIOCore
import NIOPosix

/// Sends queries for names outside the cluster to the host's resolvers, in their resolv.conf
/// order, over the protocol the client used (and over TCP too when a UDP answer comes truncated). The query goes out as the client sent it (its ID, flags and EDNS0 record), so the
/// answer is relayed byte for byte.
struct DNSForwarder: Sendable {
    let servers: [String]
    let group: any EventLoopGroup
    /// How long one server gets to answer before the next is asked.
    static let timeout = TimeAmount.seconds(2)

    /// The `nameserver` addresses of a resolv.conf.
    static func nameServers(resolvConf: String) -> [String] {
        let text = (try? String(contentsOfFile: resolvConf, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            // A scoped IPv6 address (fe80::1%eth0) keeps its scope out: NIO takes the bare address.
            return fields[1].split(separator: "%").first.map(String.init)
        }
    }

    /// The upstream answer to `query`; `limit` is the room the client has (a UDP client's
    /// payload size): a truncated UDP answer is asked again over TCP, and the whole answer goes
    /// back if it fits, else the truncated one (the client then asks us over TCP).
    func forward(_ query: [UInt8], overTCP: Bool, limit: Int) async -> [UInt8]? {
        for server in servers {
            var truncated: [UInt8]?
            if !overTCP, let answer = try? await udp(query, to: server) {
                guard answer.count > 2, answer[2] & 0x02 != 0 else { return answer }
                truncated = answer
            }
            if let answer = try? await tcp(query, to: server) {
                if let truncated, answer.count > limit { return truncated }
                return answer
            }
            if let truncated { return truncated }
        }
        return nil
    }

    private func udp(_ query: [UInt8], to server: String) async throws -> [UInt8]? {
        let address = try SocketAddress(ipAddress: server, port: 53)
        let channel = try await DatagramBootstrap(group: group)
            .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        // Closing the socket ends the wait for an answer that never comes.
        let raw = channel.channel
        raw.eventLoop.scheduleTask(in: Self.timeout) { raw.close(promise: nil) }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: query)))
            for try await envelope in inbound where envelope.remoteAddress == address {
                let answer = Array(envelope.data.readableBytesView)
                if answer.count >= 12, answer[0] == query[0], answer[1] == query[1] { return answer }
            }
            return nil
        }
    }

    private func tcp(_ query: [UInt8], to server: String) async throws -> [UInt8]? {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(Self.timeout)
            .connect(host: server, port: 53) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        raw.eventLoop.scheduleTask(in: Self.timeout * 2) { raw.close(promise: nil) }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query))
            var received: [UInt8] = []
            for try await chunk in inbound {
                received += chunk.readableBytesView
                guard received.count >= 2 else { continue }
                let length = Int(received[0]) << 8 | Int(received[1])
                if received.count >= 2 + length { return Array(received[2..<2 + length]) }
            }
            return nil
        }
    }
}
