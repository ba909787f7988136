import BerthDistribution
import BerthOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The registry's filesystem storage under one root directory:
///
/// - `blobs/sha256/<hex>`: content, shared by every repository (deduplicated); manifests are blobs too.
/// - `repositories/<name>/_layers/sha256/<hex>`: the blobs a repository may serve.
/// - `repositories/<name>/_manifests/revisions/sha256/<hex>`: the repository's manifests; the file
///   holds the manifest's media type.
/// - `repositories/<name>/_manifests/tags/<tag>`: the digest a tag points at.
/// - `repositories/<name>/_referrers/sha256/<subject-hex>/sha256/<hex>`: the descriptor of a
///   manifest whose `subject` is the given manifest.
/// - `uploads/<id>/`: upload sessions in progress (`data`, `repository`).
/// - `tmp/`: files being written; renamed into place only when complete and fsynced.
///
/// Repository name components start with an alphanumeric, so `_layers` and friends never collide
/// with a nested repository.
public final class RegistryStorage: Sendable {
    /// The storage root.
    public let root: String

    /// Opens (creating if needed) storage under `root`.
    public init(root: String) throws {
        self.root = (root as NSString).standardizingPath
        for directory in ["blobs/sha256", "repositories", "uploads", "tmp"] {
            try FileIO.makeDirectories("\(self.root)/\(directory)")
        }
        // Leftovers of writes a crash interrupted: never visible anywhere, safe to drop.
        for leftover in FileIO.list(temporaryDirectory) { FileIO.remove("\(temporaryDirectory)/\(leftover)") }
    }

    var temporaryDirectory: String { "\(root)/tmp" }
    var uploadsDirectory: String { "\(root)/uploads" }
    var repositoriesDirectory: String { "\(root)/repositories" }

    func blobPath(_ digest: Digest) -> String { "\(root)/blobs/\(digest.algorithm)/\(digest.encoded)" }
    func repositoryPath(_ name: String) -> String { "\(repositoriesDirectory)/\(name)" }
    func layerLinkPath(_ name: String, _ digest: Digest) -> String {
        "\(repositoryPath(name))/_layers/\(digest.algorithm)/\(digest.encoded)"
    }
    func revisionsPath(_ name: String) -> String { "\(repositoryPath(name))/_manifests/revisions/sha256" }
    func revisionPath(_ name: String, _ digest: Digest) -> String {
        "\(repositoryPath(name))/_manifests/revisions/\(digest.algorithm)/\(digest.encoded)"
    }
    func tagsPath(_ name: String) -> String { "\(repositoryPath(name))/_manifests/tags" }
    func tagPath(_ name: String, _ tag: String) -> String { "\(tagsPath(name))/\(tag)" }
    func referrersPath(_ name: String, subject: Digest) -> String {
        "\(repositoryPath(name))/_referrers/\(subject.algorithm)/\(subject.encoded)/sha256"
    }

    // MARK: Blobs

    /// The size of a blob the repository `name` may serve, nil when it may not.
    func blobSize(_ name: String, _ digest: Digest) -> Int64? {
        guard FileIO.exists(layerLinkPath(name, digest)) || FileIO.exists(revisionPath(name, digest)) else {
            return nil
        }
        return FileIO.size(blobPath(digest))
    }

    /// Lets the repository serve a stored blob.
    func linkBlob(_ name: String, _ digest: Digest) throws {
        let link = layerLinkPath(name, digest)
        guard !FileIO.exists(link) else { return }
        try FileIO.writeAtomically(Data(digest.description.utf8), to: link, temporaryDirectory: temporaryDirectory)
    }

    /// Removes the repository's link to a blob; false when it had none.
    func unlinkBlob(_ name: String, _ digest: Digest) -> Bool {
        unlink(layerLinkPath(name, digest)) == 0
    }

    // MARK: Manifests

    /// The stored media type of a manifest in the repository, nil when the repository lacks it.
    func manifestMediaType(_ name: String, _ digest: Digest) -> String? {
        guard FileIO.exists(blobPath(digest)) else { return nil }
        return FileIO.readString(revisionPath(name, digest))
    }

    func resolveTag(_ name: String, _ tag: String) -> Digest? {
        FileIO.readString(tagPath(name, tag)).flatMap { try? Digest(parsing: $0) }
    }

    /// The repository's tags in the spec's order (`TagName.precedes`); nil when the repository does not exist.
    func tags(_ name: String) -> [String]? {
        guard FileIO.exists("\(repositoryPath(name))/_manifests") || FileIO.exists("\(repositoryPath(name))/_layers") else {
            return nil
        }
        return FileIO.list(tagsPath(name)).filter { TagName.isValid($0) }.sorted(by: TagName.precedes)
    }

    /// Every repository with at least one manifest (or, with `includingBlobOnly`, one blob), sorted.
    public func repositories(includingBlobOnly: Bool = false) -> [String] {
        var found: [String] = []
        func walk(_ relative: String) {
            let path = relative.isEmpty ? repositoriesDirectory : "\(repositoriesDirectory)/\(relative)"
            let entries = FileIO.list(path)
            if entries.contains("_manifests") || (includingBlobOnly && entries.contains("_layers")) { found.append(relative) }
            for entry in entries where !entry.hasPrefix("_") {
                walk(relative.isEmpty ? entry : "\(relative)/\(entry)")
            }
        }
        walk("")
        return found.sorted()
    }

    /// The digests of the repository's manifests.
    func manifestDigests(_ name: String) -> [Digest] {
        FileIO.list(revisionsPath(name)).compactMap { try? Digest(parsing: "sha256:\($0)") }
    }

    /// Stores a verified manifest: the blob, the repository's revision (its media type), the tag
    /// and, for a manifest with a subject, the referrers entry.
    func putManifest(
        _ name: String, bytes: Data, digest: Digest, mediaType: String, tag: String?, referrer: (subject: Digest, descriptor: Descriptor)?
    ) throws {
        let blob = blobPath(digest)
        if !FileIO.exists(blob) {
            try FileIO.writeAtomically(bytes, to: blob, temporaryDirectory: temporaryDirectory)
        }
        try FileIO.writeAtomically(Data(mediaType.utf8), to: revisionPath(name, digest), temporaryDirectory: temporaryDirectory)
        if let referrer {
            let entry = try JSONEncoder().encode(referrer.descriptor)
            try FileIO.writeAtomically(
                entry, to: "\(referrersPath(name, subject: referrer.subject))/\(digest.encoded)",
                temporaryDirectory: temporaryDirectory)
        }
        if let tag {
            try FileIO.writeAtomically(Data(digest.description.utf8), to: tagPath(name, tag), temporaryDirectory: temporaryDirectory)
        }
    }

    /// Removes a tag; false when there was none.
    func deleteTag(_ name: String, _ tag: String) -> Bool {
        unlink(tagPath(name, tag)) == 0
    }

    /// Removes a manifest from the repository with every tag pointing at it and its referrers
    /// entry; false when the repository did not have it. The blob stays until `gc`.
    func deleteManifest(_ name: String, _ digest: Digest) -> Bool {
        let revision = revisionPath(name, digest)
        guard FileIO.exists(revision) else { return false }
        if let bytes = FileIO.read(blobPath(digest)), let subject = ManifestSubjectProbe.subject(of: bytes) {
            let entry = "\(referrersPath(name, subject: subject))/\(digest.encoded)"
            unlink(entry)
            FileIO.pruneEmptyDirectories(
                from: (entry as NSString).deletingLastPathComponent, upTo: "\(repositoryPath(name))/_referrers")
        }
        for tag in FileIO.list(tagsPath(name)) where resolveTag(name, tag) == digest {
            _ = deleteTag(name, tag)
        }
        return unlink(revision) == 0
    }

    /// The descriptors of the manifests in the repository whose subject is `subject`.
    func referrers(_ name: String, subject: Digest) -> [Descriptor] {
        let directory = referrersPath(name, subject: subject)
        return FileIO.list(directory).sorted().compactMap { entry in
            guard let digest = try? Digest(parsing: "sha256:\(entry)"), FileIO.exists(revisionPath(name, digest)),
                  let data = FileIO.read("\(directory)/\(entry)")
            else { return nil }
            return try? JSONDecoder().decode(Descriptor.self, from: data)
        }
    }
}

/// Reads only the `subject` of a manifest or index.
struct ManifestSubjectProbe: Decodable {
    var subject: Descriptor?

    static func subject(of bytes: Data) -> Digest? {
        (try? JSONDecoder().decode(ManifestSubjectProbe.self, from: bytes))?.subject?.digest
    }
}
