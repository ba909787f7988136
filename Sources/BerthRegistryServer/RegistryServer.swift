import BerthDistribution
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// The private registry: every endpoint of the OCI distribution-spec v1.1 over `RegistryStorage`,
/// with access control, an optional token service and TLS.
public struct RegistryServer: Sendable {
    /// What the server was started with.
    public let configuration: RegistryConfiguration
    /// The storage under `configuration.root`.
    public let storage: RegistryStorage
    let logger: Logger

    /// Opens the storage; removes upload sessions that expired while the server was down.
    /// The default logger writes the access log to standard error.
    public init(
        configuration: RegistryConfiguration,
        logger: Logger = Logger(label: "berth.registry", factory: { StreamLogHandler.standardError(label: $0) })
    ) throws {
        self.configuration = configuration
        self.storage = try RegistryStorage(root: configuration.root)
        self.logger = logger
        storage.expireUploads(olderThan: configuration.uploadExpiration)
    }

    /// Serves until the task is cancelled (or, with `handleSignals`, until SIGTERM or SIGINT).
    /// `onListening` receives the bound port once the server accepts connections.
    public func run(handleSignals: Bool = false, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let serving = try ServingLock.serving(root: storage.root)
        defer { withExtendedLifetime(serving) {} }
        // NIOSSL takes only byte buffers, so blobs go out with sendfile (file regions) on plain HTTP only.
        let server: HTTPServerBuilder
        let transfers: FileTransfers?
        if let tls = configuration.tls {
            server = try .tls(.http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()])), tlsConfiguration: Self.tlsConfiguration(certificate: tls.certificate, key: tls.key))
            transfers = nil
        } else {
            let fileTransfers = FileTransfers()
            server = FileServingHTTP1Channel.builder(transfers: fileTransfers)
            transfers = fileTransfers
        }
        let responder = RegistryResponder(
            storage: storage, transfers: transfers, sendfileToLoopback: configuration.sendfileToLoopback, access: configuration.access,
            maximumManifestSize: configuration.maximumManifestSize, logger: logger)
        let address = ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port))
        let onServerRunning: @Sendable (any Channel) async -> Void = { channel in await onListening(channel.localAddress?.port ?? 0) }
        let app = Application(
            responder: responder, server: server, configuration: address, onServerRunning: onServerRunning, logger: logger)
        let storage = storage
        let expiration = configuration.uploadExpiration
        let logger = logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                if handleSignals { try await app.runService() } else { try await app.run() }
            }
            group.addTask {
                // Expired upload sessions are swept periodically, not just at startup.
                let interval = min(max(expiration / 2, 1), 600)
                while !Task.isCancelled {
                    try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
                    for id in storage.expireUploads(olderThan: expiration) {
                        logger.info("expired upload session", metadata: ["upload": "\(id)"])
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
        } catch {
            throw RegistryServerError.tls("\(error)")
        }
    }
}
