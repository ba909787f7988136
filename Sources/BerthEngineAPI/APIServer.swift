import BerthEngine
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Serves the Docker Engine API over the service layer, on Unix sockets and (only with client
/// certificates) TCP.
public final class APIServer: Sendable {
    /// Where the server listens.
    public enum Listener: Sendable {
        /// A Unix socket, mode 0660, owned by root and by `group` when that group exists (dockerd's `docker` group).
        case unix(path: String, group: String?)
        /// A TCP address, with TLS that requires a client certificate signed by the given CA.
        case tcp(host: String, port: Int, tls: TLSConfiguration)
    }

    static let decoderName = "http-request-decoder"
    static let encoderName = "http-response-encoder"

    public let engine: Engine
    private let router: Router

    public init(engine: Engine) {
        self.engine = engine
        router = Router(routes: Routes.all(engine))
    }

    /// Binds every listener; returns the bound channels (close them to stop serving).
    public func bind(_ listeners: [Listener]) async throws -> [any Channel] {
        var channels: [any Channel] = []
        do {
            for listener in listeners { channels.append(try await bind(listener)) }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }

    private func bind(_ listener: Listener) async throws -> any Channel {
        let router = router
        switch listener {
        case .unix(let path, let group):
            try Self.removeStaleSocket(path)
            let channel = try await bootstrap(router: router, tls: nil).bind(unixDomainSocketPath: path).get()
            try Self.restrictAccess(path, group: group)
            return channel
        case .tcp(let host, let port, let tls):
            let context = try NIOSSLContext(configuration: tls)
            return try await bootstrap(router: router, tls: context).bind(host: host, port: port).get()
        }
    }

    private func bootstrap(router: Router, tls: NIOSSLContext?) -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            // A hijacked connection's client half-closes at the end of its stdin and still reads.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)), name: APIServer.decoderName)
                    try pipeline.addHandler(HTTPResponseEncoder(), name: APIServer.encoderName)
                    try pipeline.addHandler(APIConnectionHandler(router: router))
                }
            }
    }

    /// A socket file left by a daemon that died is removed; one a live daemon serves is not.
    private static func removeStaleSocket(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw EngineError(.conflict, "\(path) exists and is not a socket")
        }
        unlink(path)
    }

    private static func restrictAccess(_ path: String, group: String?) throws {
        var groupID: gid_t = 0
        if let group, let entry = getgrnam(group) { groupID = entry.pointee.gr_gid }
        guard chown(path, 0, groupID) == 0, chmod(path, 0o660) == 0 else {
            throw EngineError(.system, "cannot restrict access to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The TLS configuration of a TCP listener: the server's certificate and key, and only
    /// clients whose certificates `caCertificate` signed (dockerd's `--tlsverify`).
    public static func tlsConfiguration(caCertificate: String, certificate: String, key: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        configuration.trustRoots = .file(caCertificate)
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }
}
