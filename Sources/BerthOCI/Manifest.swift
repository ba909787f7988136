/// An image manifest: OCI image-spec manifest.md, and Docker's schema 2 manifest, which has the
/// same shape and differs only in media types.
public struct Manifest: Codable, Hashable, Sendable {
    /// schemaVersion must be 2 for compatibility with older Docker versions.
    public var schemaVersion: Int = 2
    /// mediaType is the manifest's own media type (OCI: optional but recommended; Docker: required).
    public var mediaType: String?
    /// artifactType is the type of an artifact when the manifest is used for one.
    public var artifactType: String?
    /// config references the image configuration.
    public var config: Descriptor
    /// layers are ordered from the base layer upwards.
    public var layers: [Descriptor]
    /// subject names a manifest this one refers to (referrers API).
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(config: Descriptor, layers: [Descriptor], mediaType: String = MediaType.ociManifest,
                annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (OCI) or manifest list (Docker): manifests for several platforms.
public struct Index: Codable, Hashable, Sendable {
    public var schemaVersion: Int = 2
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(manifests: [Descriptor], mediaType: String = MediaType.ociIndex,
                annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The first entry whose platform runs on `platform`; entries without a platform are skipped.
    public func manifest(for platform: Platform) -> Descriptor? {
        manifests.first { descriptor in
            guard MediaType.manifests.contains(descriptor.mediaType), let p = descriptor.platform else { return false }
            return p.matches(platform)
        }
    }
}

/// Just enough of any manifest-like JSON to tell what it is.
public struct MediaTypeProbe: Decodable {
    public var mediaType: String?
    public var manifests: [Descriptor]?
    public var config: Descriptor?
    public var schemaVersion: Int?

    /// The effective media type, inferring it from the shape when the field is absent (OCI allows that).
    public var effectiveMediaType: String? {
        if let mediaType { return mediaType }
        if manifests != nil { return MediaType.ociIndex }
        if config != nil { return MediaType.ociManifest }
        return nil
    }
}
