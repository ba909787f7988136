import BerthArchive
import BerthKubeAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import SwiftASN1
import X509

/// The Kubernetes API over HTTPS (HTTP/1.1, which kubectl accepts). Clients authenticate with a
/// certificate from the cluster CA. The TLS layer accepts any client, with or without a
/// certificate, and the certificate is checked against the CA per request, so that a client
/// without a valid one gets a 401 `Status` instead of a failed handshake.
public final class KubeServer: Sendable {
    public let router: KubeRouter
    private let tls: NIOSSLContext
    private let authority: Certificate

    public init(router: KubeRouter, pki: KubePKI) throws {
        self.router = router
        let chain = try NIOSSLCertificate.fromPEMFile(pki.serverCertificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: pki.serverKeyPath, format: .pem)))
        configuration.trustRoots = .file(pki.caCertificatePath)
        configuration.certificateVerification = .optionalVerification
        tls = try NIOSSLContext(configuration: configuration)
        authority = try Certificate(pemEncoded: String(contentsOfFile: pki.caCertificatePath, encoding: .utf8))
    }

    /// Binds `host:port` and serves until the process ends; returns once listening.
    public func start(host: String, port: Int) async throws {
        let tls = tls
        let authority = authority
        let router = router
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Any certificate passes the handshake; `identity` checks it against the CA.
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLServerHandler(context: tls, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) }))
                    // A connection's first request may upgrade it to a stream (exec, attach, port-forward).
                    let identify: @Sendable (any Channel) async -> KubeUser? = { await Self.identity($0, authority: authority) }
                    let upgraders: [any NIOTypedHTTPServerProtocolUpgrader<KubeConnection>] = [
                        KubeWebSocketUpgrader(streams: PodStreamWebSocket.upgrader(router: router, identify: identify),
                                              portForward: KubePortForwardWebSocket.upgrader(router: router, identify: identify)),
                        // kubectl's fallback when the WebSocket upgrade is refused.
                        KubeSPDYUpgrader(router: router, identify: identify),
                    ]
                    let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                        configuration: .init(upgradeConfiguration: .init(upgraders: upgraders) { channel in
                            channel.eventLoop.makeCompletedFuture {
                                .http(try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel))
                            }
                        }))
                    let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<KubeConnection>.self)
                    try channel.pipeline.syncOperations.addHandler(UnhandledUpgradeFilter(upgraders: upgraders),
                                                                   position: .before(upgradeHandler))
                    return upgrade
                }
            }
        // Serves until the process ends: `berth serve` exits when it stops.
        Task {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask {
                            switch try? await connection.get() {
                            case .http(let http)?: await Self.serve(http, router: router, authority: authority)
                            case .webSocket(let frames, let stream)?: await stream.run(frames)
                            case .upgraded(let session)?: await session()
                            case nil: break
                            }
                        }
                    }
                }
            }
        }
    }

    /// The apiserver's limit on request bodies (3 MiB).
    static let maximumBodySize = 3 << 20

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, router: KubeRouter,
                              authority: Certificate) async {
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body = []
                case .body(var buffer):
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                    if body.count > Self.maximumBodySize, let requestHead = head {
                        let tooLarge = KubeAPIError(code: 413, reason: "RequestEntityTooLarge",
                                                    message: "the request body is larger than \(Self.maximumBodySize) bytes")
                        try await write(.error(tooLarge), for: requestHead, to: outbound, channel: channel)
                        return
                    }
                case .end:
                    guard let requestHead = head else { continue }
                    let user = await identity(channel, authority: authority)
                    var headers: [String: String] = [:]
                    for (name, value) in requestHead.headers { headers[name.lowercased()] = value }
                    let request = KubeRequest(method: requestHead.method.rawValue, uri: requestHead.uri, headers: headers, body: body, user: user)
                    let response = await router.handle(request)
                    try await write(response, for: requestHead, to: outbound, channel: channel)
                    if !requestHead.isKeepAlive { return }
                }
            }
        }
    }

    /// Answers at least this large are gzipped for clients that accept it (the apiserver's
    /// threshold): the OpenAPI documents and big lists.
    static let gzipThreshold = 128 * 1024

    private static func acceptsGzip(_ request: HTTPRequestHead) -> Bool {
        request.headers["Accept-Encoding"].contains { header in
            header.split(separator: ",").contains { $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "gzip" }
        }
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let sink = BytesSink()
        let compressor = GzipSink(sink, level: 5)
        try bytes.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        return sink.bytes
    }

    private static func write(_ response: KubeResponse, for request: HTTPRequestHead,
                              to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, channel: any Channel) async throws {
        switch response {
        case .full(let status, let contentType, let plain, let extra):
            var body = plain
            var encoding: [(String, String)] = []
            if body.count >= gzipThreshold, acceptsGzip(request), let compressed = try? gzip(body) {
                body = compressed
                encoding = [("Content-Encoding", "gzip")]
            }
            var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.count))] + encoding)
            if !extra.contains(where: { $0.0 == "Cache-Control" }) { headers.add(name: "Cache-Control", value: "no-cache, private") }
            headers.add(contentsOf: extra)
            if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
            try await outbound.write(.head(HTTPResponseHead(version: request.version, status: .init(statusCode: status), headers: headers)))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))
        case .stream(let contentType, let chunks):
            let headers = HTTPHeaders([("Content-Type", contentType), ("Transfer-Encoding", "chunked"), ("Cache-Control", "no-cache, private")])
            try await outbound.write(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers)))
            // The watch ends with its stream, or when the client closes the connection.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await chunk in chunks {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                    }
                    try await outbound.write(.end(nil))
                }
                group.addTask {
                    // Not the future's get(), which ignores cancellation: a finished stream
                    // (a log) must let the connection go on to its next request.
                    let (closed, continuation) = AsyncStream<Void>.makeStream()
                    channel.closeFuture.whenComplete { _ in continuation.finish() }
                    for await _ in closed {}
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// The client certificate's subject when the cluster CA signed it and it is valid now: CN is
    /// the user, O the groups. Nil for no certificate or any other.
    static func identity(_ channel: any Channel, authority: Certificate) async -> KubeUser? {
        guard let peer = try? await channel.nioSSL_peerCertificate().get(),
              let der = try? peer.toDERBytes(),
              let certificate = try? Certificate(derEncoded: der) else { return nil }
        var verifier = Verifier(rootCertificates: CertificateStore([authority])) { RFC5280Policy(validationTime: Date()) }
        guard case .validCertificate = await verifier.validate(leaf: certificate, intermediates: CertificateStore()) else { return nil }
        var name = ""
        var groups: [String] = []
        for relativeName in certificate.subject {
            for attribute in relativeName {
                if attribute.type == .RDNAttributeType.commonName { name = "\(attribute.value)" }
                if attribute.type == .RDNAttributeType.organizationName { groups.append("\(attribute.value)") }
            }
        }
        return KubeUser(name: name, groups: groups)
    }
}
