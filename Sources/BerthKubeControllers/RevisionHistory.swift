import BerthKubeAPI
import BerthTemplate
import Foundation

/// The pod-template history of a StatefulSet or DaemonSet as apps/v1 ControllerRevisions, which
/// `kubectl rollout history|undo` read: each revision holds `{"spec":{"template":{…,"$patch":"replace"}}}`
/// (the patch that restores it), a `revision` number, and the owner's template labels.
struct RevisionHistory {
    let store: KubeObjectStore
    let owner: OrderedJSON

    static let hashLabel = "controller.kubernetes.io/hash"

    /// The revision that records the owner's current template, created (or an equal older one
    /// renumbered as the newest, which is how a rollback looks) when needed; then revisions beyond
    /// `limit` that no live pod and neither `keep` revision uses are deleted.
    func sync(collisionCount: Int, limit: Int, inUse: Set<String>, keep: String?, extraLabels: (String) -> [String: String] = { _ in [:] }) throws -> OrderedJSON {
        let template = owner.value(at: ["spec", "template"]) ?? .object([])
        let data = Self.data(for: template)
        var revisions = try store.controlled(KubeResourceRegistry.controllerRevisions, by: owner).sorted { Self.number($0) < Self.number($1) }
        let newest = revisions.map(Self.number).max() ?? 0
        var update: OrderedJSON
        if let equal = revisions.last(where: { Self.canonical($0["data"] ?? .null) == Self.canonical(data) }) {
            update = equal
            if Self.number(equal) != newest {
                update = try store.replace(KubeResourceRegistry.controllerRevisions, namespace: equal.string("metadata", "namespace"),
                                           name: equal.string("metadata", "name") ?? "", object: equal.setting(["revision"], to: .int(newest + 1)))
                revisions.removeAll { $0.string("metadata", "uid") == equal.string("metadata", "uid") }
                revisions.append(update)
            }
        } else {
            update = try create(data: data, template: template, revision: newest + 1, collisionCount: collisionCount, extraLabels: extraLabels)
            revisions.append(update)
        }
        let protected = inUse.union([update.string("metadata", "name") ?? ""]).union(keep.map { [$0] } ?? [])
        let removable = revisions.filter { !protected.contains($0.string("metadata", "name") ?? "") }
        for revision in removable.dropLast(max(0, limit)) {
            do {
                _ = try store.delete(KubeResourceRegistry.controllerRevisions, namespace: revision.string("metadata", "namespace"),
                                     name: revision.string("metadata", "name") ?? "")
            } catch let error as KubeAPIError where error.code == 404 {}
        }
        return update
    }

    private func create(data: OrderedJSON, template: OrderedJSON, revision: Int, collisionCount: Int,
                        extraLabels: (String) -> [String: String]) throws -> OrderedJSON {
        let ownerName = owner.string("metadata", "name") ?? ""
        var collisions = collisionCount
        while true {
            let hash = Self.hash(data, collisionCount: collisions)
            var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
            labels[Self.hashLabel] = hash
            labels.merge(extraLabels(hash)) { $1 }
            var metadata: [(String, OrderedJSON)] = [("name", .string("\(String(ownerName.prefix(223)))-\(hash)")), ("labels", .stringMap(labels))]
            if let annotations = owner.stringMap(at: ["metadata", "annotations"]), !annotations.isEmpty {
                metadata.append(("annotations", .stringMap(annotations)))
            }
            metadata.append(("ownerReferences", .array([OwnerRefs.controllerReference(to: owner)])))
            let object = OrderedJSON.object([
                ("apiVersion", .string("apps/v1")), ("kind", .string("ControllerRevision")),
                ("metadata", .object(metadata)), ("data", data), ("revision", .int(revision)),
            ])
            do {
                return try store.create(KubeResourceRegistry.controllerRevisions, namespace: owner.string("metadata", "namespace"), object: object)
            } catch let error as KubeAPIError where error.code == 409 && collisions < collisionCount + 10 {
                // Same name, other content (a hash collision or a stale revision of another owner).
                collisions += 1
            }
        }
    }

    /// The revision's number (`revision`).
    static func number(_ revision: OrderedJSON) -> Int { revision["revision"]?.int ?? 0 }

    /// What a revision stores for `template`: the patch that puts it back.
    static func data(for template: OrderedJSON) -> OrderedJSON {
        .object([("spec", .object([("template", template.setting(["$patch"], to: .string("replace")))]))])
    }

    /// The pod template a revision records.
    static func template(of revision: OrderedJSON) -> OrderedJSON? {
        revision.value(at: ["data", "spec", "template"])?.setting(["$patch"], to: nil)
    }

    /// A short name-safe hash of the revision's content: FNV-1a (32 bit) of its canonical JSON,
    /// its decimal digits spelled in the alphabet of generated names.
    static func hash(_ data: OrderedJSON, collisionCount: Int) -> String {
        var value: UInt32 = 2_166_136_261
        var bytes = Array(canonical(data).utf8)
        if collisionCount > 0 { bytes += Array(String(collisionCount).utf8) }
        for byte in bytes {
            value ^= UInt32(byte)
            value = value &* 16_777_619
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(value).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    /// Compact JSON with every object's members sorted, so equal content compares equal.
    static func canonical(_ value: OrderedJSON) -> String {
        func sorted(_ value: OrderedJSON) -> OrderedJSON {
            switch value {
            case .object(let members): .object(members.sorted { $0.0 < $1.0 }.map { ($0.0, sorted($0.1)) })
            case .array(let items): .array(items.map(sorted))
            default: value
            }
        }
        return sorted(value).compact
    }
}
