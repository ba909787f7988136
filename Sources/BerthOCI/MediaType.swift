/// Media types from the OCI image-spec and Docker's image manifest v2 schema 2.
public enum MediaType {
    public static let ociDescriptor = "application/vnd.oci.descriptor.v1+json"
    public static let ociLayout = "application/vnd.oci.layout.header.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociEmptyJSON = "application/vnd.oci.empty.v1+json"

    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Manifest media types Berth reads (single-platform images).
    public static let manifests: Set<String> = [ociManifest, dockerManifest]
    /// Index media types Berth reads (multi-platform images).
    public static let indexes: Set<String> = [ociIndex, dockerManifestList]

    /// True for any layer media type Berth can unpack.
    public static func isLayer(_ mediaType: String) -> Bool {
        [ociLayer, ociLayerGzip, ociLayerZstd, dockerLayer, dockerLayerGzip, dockerForeignLayerGzip,
         "application/vnd.oci.image.layer.nondistributable.v1.tar",
         "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"].contains(mediaType)
    }
}
