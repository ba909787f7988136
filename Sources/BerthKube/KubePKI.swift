import Crypto
import Foundation
import SwiftASN1
import X509

/// The Kubernetes API's certificates in `<root>/kube/pki`: a CA, the server's certificate (for
/// 127.0.0.1, ::1, localhost and the `kubernetes` service names) and an admin client certificate
/// (`O=system:masters, CN=berth-admin`). Made on first start with ECDSA P-256 keys, which kubectl,
/// Python's ssl and NIOSSL all accept; the server certificate is renewed when it nears expiry.
public struct KubePKI: Sendable {
    public let directory: String

    public var caCertificatePath: String { directory + "/ca.crt" }
    public var serverCertificatePath: String { directory + "/apiserver.crt" }
    public var serverKeyPath: String { directory + "/apiserver.key" }
    public var adminCertificatePath: String { directory + "/admin.crt" }
    public var adminKeyPath: String { directory + "/admin.key" }
    var caKeyPath: String { directory + "/ca.key" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Makes whatever is missing; keeps what exists, so kubeconfigs handed out stay valid.
    public func ensure(now: Date = .now) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let caName = try DistinguishedName { CommonName("berth-ca") }
        let caKey: P256.Signing.PrivateKey
        let caCertificate: Certificate
        if FileManager.default.fileExists(atPath: caCertificatePath), FileManager.default.fileExists(atPath: caKeyPath) {
            caKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: caKeyPath, encoding: .utf8))
            caCertificate = try Certificate(pemEncoded: String(contentsOfFile: caCertificatePath, encoding: .utf8))
        } else {
            caKey = P256.Signing.PrivateKey()
            let publicKey = Certificate.PublicKey(caKey.publicKey)
            caCertificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: .init(caKey))
            try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(caCertificate.serializeAsPEM().pemString, to: caCertificatePath, mode: 0o644)
        }
        let authorityKey = try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier
        if try needsIssuing(serverCertificatePath, now: now) {
            try issue(subject: DistinguishedName { CommonName("kube-apiserver") }, usage: .serverAuth,
                      names: [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                              .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                              .dnsName("localhost"), .dnsName("kubernetes"), .dnsName("kubernetes.default"),
                              .dnsName("kubernetes.default.svc"), .dnsName("kubernetes.default.svc.cluster.local")],
                      issuer: caCertificate.subject, issuerKey: caKey, authorityKey: authorityKey,
                      certificatePath: serverCertificatePath, keyPath: serverKeyPath, now: now)
        }
        if try needsIssuing(adminCertificatePath, now: now) {
            try issue(subject: DistinguishedName { OrganizationName("system:masters"); CommonName("berth-admin") }, usage: .clientAuth,
                      names: [], issuer: caCertificate.subject, issuerKey: caKey, authorityKey: authorityKey,
                      certificatePath: adminCertificatePath, keyPath: adminKeyPath, now: now)
        }
    }

    /// Missing, or valid for less than 30 more days.
    private func needsIssuing(_ path: String, now: Date) throws -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return true }
        let certificate = try Certificate(pemEncoded: text)
        return certificate.notValidAfter < now.addingTimeInterval(30 * 86400)
    }

    private func issue(subject: DistinguishedName, usage: ExtendedKeyUsage.Usage, names: [GeneralName],
                       issuer: DistinguishedName, issuerKey: P256.Signing.PrivateKey, authorityKey: ArraySlice<UInt8>?,
                       certificatePath: String, keyPath: String, now: Date) throws {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(365 * 86400),
            issuer: issuer, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                if !names.isEmpty { SubjectAlternativeNames(names) }
                SubjectKeyIdentifier(hash: publicKey)
                if let authorityKey { AuthorityKeyIdentifier(keyIdentifier: authorityKey) }
            },
            issuerPrivateKey: .init(issuerKey))
        try write(key.pemRepresentation, to: keyPath, mode: 0o600)
        try write(certificate.serializeAsPEM().pemString, to: certificatePath, mode: 0o644)
    }

    private func write(_ text: String, to path: String, mode: Int) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((text.hasSuffix("\n") ? text : text + "\n").utf8),
                                             attributes: [.posixPermissions: mode]),
              rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
