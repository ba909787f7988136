import BerthOCI
import Foundation

/// An image in the local store. Its ID is the digest of its config, as Docker's is.
public struct ImageRecord: Hashable, Sendable {
    public var id: Digest
    public var manifestDigest: Digest
    /// The config's `created` field (RFC 3339).
    public var created: String?
    /// The uncompressed size of all layers, as `docker images` reports it.
    public var size: Int64
    /// Tags (fully qualified) pointing at this image, sorted.
    public var tags: [Reference]
    /// `name@digest` references known from pushes and pulls.
    public var repoDigests: [Reference]
    /// When the newest tag was set (RFC 3339).
    public var lastTagTime: String?

    public var createdDate: Date? { created.flatMap(Timestamp.parse) }
}
