/// Descriptor describes the disposition of targeted content (OCI image-spec, descriptor.md).
public struct Descriptor: Codable, Hashable, Sendable {
    /// mediaType is the media type of the referenced content.
    public var mediaType: String
    /// digest is the digest of the targeted content.
    public var digest: Digest
    /// size specifies the size in bytes of the raw content.
    public var size: Int64
    /// urls specifies a list of URIs from which this object may be downloaded.
    public var urls: [String]?
    /// annotations contains arbitrary metadata for this descriptor.
    public var annotations: [String: String]?
    /// platform describes the platform an index entry is for.
    public var platform: Platform?
    /// artifactType is the IANA media type of the artifact, when the descriptor points at one.
    public var artifactType: String?

    public init(
        mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil,
        platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

/// Platform describes the platform which an image in an index runs on.
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }

    /// The platform of this machine, in Go's GOOS/GOARCH terms as the spec uses them.
    public static var current: Platform {
        #if arch(x86_64)
        return Platform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
        return Platform(architecture: "arm64", os: "linux", variant: "v8")
        #else
        return Platform(architecture: "unknown", os: "linux")
        #endif
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// Whether an image for `self` runs on `host` (variant ignored when either side omits it).
    public func matches(_ host: Platform) -> Bool {
        guard os == host.os, architecture == host.architecture else { return false }
        guard let variant, let hostVariant = host.variant else { return true }
        return variant == hostVariant
    }
}
