import Foundation
import BerthDistribution

/// The endpoint a `/v2/…` path names. Repository names contain slashes, so the path is split at
/// the last endpoint marker (`/manifests/`, `/blobs/`, `/blobs/uploads/`, `/tags/list`,
/// `/referrers/`) rather than matched against a router pattern.
enum RegistryRoute: Equatable {
    /// `/v2/`: the API version check.
    case base
    /// `/v2/_catalog`
    case catalog
    /// `/v2/<name>/tags/list`
    case tags(name: String)
    /// `/v2/<name>/manifests/<reference>`
    case manifest(name: String, reference: String)
    /// `/v2/<name>/blobs/<digest>`
    case blob(name: String, digest: String)
    /// `/v2/<name>/blobs/uploads/` (session is empty) or `/v2/<name>/blobs/uploads/<session>`
    case upload(name: String, session: String)
    /// `/v2/<name>/referrers/<digest>`
    case referrers(name: String, digest: String)

    /// Nil when the path is not an endpoint of the distribution-spec.
    init?(path: String) {
        guard path == "/v2" || path.hasPrefix("/v2/") else { return nil }
        let rest = path.dropFirst(path == "/v2" ? 3 : 4)
        if rest.isEmpty {
            self = .base
            return
        }
        if rest == "_catalog" {
            self = .catalog
            return
        }
        if rest.hasSuffix("/tags/list") {
            self = .tags(name: String(rest.dropLast("/tags/list".count)))
            return
        }
        if rest.hasSuffix("/blobs/uploads") {
            self = .upload(name: String(rest.dropLast("/blobs/uploads".count)), session: "")
            return
        }
        // The marker that occurs last wins: a name may itself contain `blobs` or `manifests`.
        let markers = ["/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"]
        var best: (marker: String, range: Range<Substring.Index>)?
        for marker in markers {
            guard let range = rest.range(of: marker, options: .backwards) else { continue }
            if let current = best, current.range.lowerBound >= range.lowerBound { continue }
            best = (marker, range)
        }
        guard let (marker, range) = best else { return nil }
        let name = String(rest[..<range.lowerBound])
        let tail = String(rest[range.upperBound...])
        guard !tail.contains("/") else { return nil }
        switch marker {
        case "/blobs/uploads/": self = .upload(name: name, session: tail)
        case "/blobs/":
            guard !tail.isEmpty else { return nil }
            self = .blob(name: name, digest: tail)
        case "/manifests/":
            guard !tail.isEmpty else { return nil }
            self = .manifest(name: name, reference: tail)
        default:
            guard !tail.isEmpty else { return nil }
            self = .referrers(name: name, digest: tail)
        }
    }

    /// The repository the route addresses, if any.
    var repository: String? {
        switch self {
        case .base, .catalog: return nil
        case .tags(let name), .manifest(let name, _), .blob(let name, _), .upload(let name, _),
             .referrers(let name, _):
            return name
        }
    }
}
