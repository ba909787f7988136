import BerthKubeAPI
import BerthTemplate
import Foundation

/// The annotations the deployment controller keeps on Deployments and their ReplicaSets.
enum DeploymentAnnotations {
    static let revision = "deployment.kubernetes.io/revision"
    static let revisionHistory = "deployment.kubernetes.io/revision-history"
    static let desiredReplicas = "deployment.kubernetes.io/desired-replicas"
    static let maxReplicas = "deployment.kubernetes.io/max-replicas"
    static let podTemplateHash = "pod-template-hash"
    /// Never copied from a Deployment to its ReplicaSets (kubectl's rollback skips the same set).
    static let notCopied: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", revision, revisionHistory, desiredReplicas, maxReplicas,
        "deprecated.deployment.rollback.to",
    ]
}

/// A Deployment's spec with the API's defaults filled in where the stored object lacks them.
struct DeploymentSpec {
    var replicas: Int
    var selector: LabelSelector
    var template: OrderedJSON
    var recreate: Bool
    var maxSurge: IntOrString
    var maxUnavailable: IntOrString
    var minReadySeconds: Int
    var revisionHistoryLimit: Int
    var progressDeadlineSeconds: Int?
    var paused: Bool

    init?(_ deployment: OrderedJSON) {
        guard let selector = try? deployment.value(at: ["spec", "selector"])?.decode(LabelSelectorSpec.self),
              !selector.selector.requirements.isEmpty else { return nil }
        self.selector = selector.selector
        replicas = deployment.value(at: ["spec", "replicas"])?.int ?? 1
        template = deployment.value(at: ["spec", "template"]) ?? .object([])
        recreate = deployment.string("spec", "strategy", "type") == "Recreate"
        maxSurge = (try? deployment.value(at: ["spec", "strategy", "rollingUpdate", "maxSurge"])?.decode(IntOrString.self)) ?? .string("25%")
        maxUnavailable = (try? deployment.value(at: ["spec", "strategy", "rollingUpdate", "maxUnavailable"])?.decode(IntOrString.self)) ?? .string("25%")
        minReadySeconds = deployment.value(at: ["spec", "minReadySeconds"])?.int ?? 0
        revisionHistoryLimit = deployment.value(at: ["spec", "revisionHistoryLimit"])?.int ?? 10
        let deadline = deployment.value(at: ["spec", "progressDeadlineSeconds"])?.int ?? 600
        // Upstream reads MaxInt32 as "no deadline".
        progressDeadlineSeconds = deadline == Int(Int32.max) ? nil : deadline
        paused = deployment.value(at: ["spec", "paused"]) == .bool(true)
    }

    /// maxSurge rounded up and maxUnavailable rounded down against `replicas`; both 0 means 1 unavailable.
    var fenceposts: (surge: Int, unavailable: Int) {
        let surge = max(0, maxSurge.scaled(total: replicas, roundUp: true) ?? 0)
        let unavailable = max(0, maxUnavailable.scaled(total: replicas, roundUp: false) ?? 0)
        return surge == 0 && unavailable == 0 ? (0, 1) : (surge, unavailable)
    }

    /// The pods a rollout may add above `replicas` (none for Recreate).
    var surge: Int { recreate ? 0 : fenceposts.surge }

    /// The pods a rollout may take below `replicas` (none for Recreate or 0 replicas; at most all).
    var unavailable: Int { recreate || replicas == 0 ? 0 : min(fenceposts.unavailable, replicas) }
}

/// Reading ReplicaSets as the deployment controller counts them.
extension OrderedJSON {
    var specReplicas: Int { value(at: ["spec", "replicas"])?.int ?? 0 }
    var statusReplicas: Int { value(at: ["status", "replicas"])?.int ?? 0 }
    var readyReplicas: Int { value(at: ["status", "readyReplicas"])?.int ?? 0 }
    var availableReplicas: Int { value(at: ["status", "availableReplicas"])?.int ?? 0 }
    var revision: Int { metadataAnnotations[DeploymentAnnotations.revision].flatMap { Int($0) } ?? 0 }
    var metadataAnnotations: [String: String] { stringMap(at: ["metadata", "annotations"]) ?? [:] }
    var creationDate: Date { string("metadata", "creationTimestamp").flatMap { try? Date($0, strategy: .iso8601) } ?? .distantPast }
    var objectName: String { string("metadata", "name") ?? "" }
}

enum ReplicaSetOrder {
    /// Oldest first (creation time, then name), as upstream's ReplicaSetsByCreationTimestamp.
    static func byCreation(_ sets: [OrderedJSON]) -> [OrderedJSON] {
        sets.sorted { $0.creationDate != $1.creationDate ? $0.creationDate < $1.creationDate : $0.objectName < $1.objectName }
    }

    /// Lowest revision first (creation order on ties), as upstream's ReplicaSetsByRevision.
    static func byRevision(_ sets: [OrderedJSON]) -> [OrderedJSON] {
        byCreation(sets).enumerated().sorted { a, b in
            a.element.revision != b.element.revision ? a.element.revision < b.element.revision : a.offset < b.offset
        }.map(\.element)
    }

    /// Largest first; ties newest first (`newer`) or oldest first.
    static func bySize(_ sets: [OrderedJSON], newer: Bool) -> [OrderedJSON] {
        byCreation(sets).enumerated().sorted { a, b in
            if a.element.specReplicas != b.element.specReplicas { return a.element.specReplicas > b.element.specReplicas }
            return newer ? a.offset > b.offset : a.offset < b.offset
        }.map(\.element)
    }
}

/// The pod-template-hash: FNV-32a over the template's canonical form (its JSON with members sorted
/// and nulls dropped), then the collision count as 4 little-endian bytes when set, and the decimal
/// value encoded with the alphabet of generated names (upstream's ComputeHash + SafeEncodeString).
enum PodTemplateHash {
    static func compute(_ template: OrderedJSON, collisionCount: Int?) -> String {
        var hash: UInt32 = 0x811c_9dc5
        func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            for byte in bytes {
                hash ^= UInt32(byte)
                hash = hash &* 0x0100_0193
            }
        }
        feed(canonical(template).compact.utf8)
        if let collisionCount {
            let value = UInt32(truncatingIfNeeded: collisionCount)
            feed((0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) })
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(hash).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    /// Members sorted by name, null members dropped: two templates that mean the same compare equal.
    static func canonical(_ value: OrderedJSON) -> OrderedJSON {
        switch value {
        case .object(let members):
            return .object(members.filter { $0.1 != .null }.sorted { $0.0 < $1.0 }.map { ($0.0, canonical($0.1)) })
        case .array(let items):
            return .array(items.map(canonical))
        default:
            return value
        }
    }

    /// Whether two pod templates are the same once the pod-template-hash label is ignored
    /// (how a Deployment finds the ReplicaSet of its current template).
    static func equalIgnoringHash(_ a: OrderedJSON, _ b: OrderedJSON) -> Bool {
        func stripped(_ template: OrderedJSON) -> OrderedJSON {
            var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
            labels[DeploymentAnnotations.podTemplateHash] = nil
            let cleaned = template.setting(["metadata", "labels"], to: labels.isEmpty ? nil : .stringMap(labels))
            if cleaned["metadata"] == .object([]) { return canonical(cleaned.setting(["metadata"], to: nil)) }
            return canonical(cleaned)
        }
        return stripped(a) == stripped(b)
    }
}

/// Deployment conditions (type Available, Progressing, ReplicaFailure) as upstream sets them.
enum DeploymentConditions {
    static func condition(_ status: OrderedJSON, _ type: String) -> OrderedJSON? {
        guard case .array(let conditions)? = status["conditions"] else { return nil }
        return conditions.first { $0.string("type") == type }
    }

    static func make(_ type: String, _ status: String, reason: String, message: String, now: Date) -> OrderedJSON {
        let time = OrderedJSON.string(now.formatted(.iso8601))
        return .object([("type", .string(type)), ("status", .string(status)), ("lastUpdateTime", time),
                        ("lastTransitionTime", time), ("reason", .string(reason)), ("message", .string(message))])
    }

    /// `status` with `condition` set: unchanged when one of its type has the same status and
    /// reason; the transition time kept when only the reason or message changes.
    static func setting(_ condition: OrderedJSON, in status: OrderedJSON) -> OrderedJSON {
        let type = condition.string("type") ?? ""
        var updated = condition
        if let current = self.condition(status, type) {
            if current.string("status") == condition.string("status"), current.string("reason") == condition.string("reason") { return status }
            if current.string("status") == condition.string("status") {
                updated = updated.setting(["lastTransitionTime"], to: current["lastTransitionTime"])
            }
        }
        return removing(type, from: status).setting(["conditions"], to: .array(conditions(of: removing(type, from: status)) + [updated]))
    }

    static func removing(_ type: String, from status: OrderedJSON) -> OrderedJSON {
        let kept = conditions(of: status).filter { $0.string("type") != type }
        return status.setting(["conditions"], to: kept.isEmpty ? nil : .array(kept))
    }

    static func conditions(of status: OrderedJSON) -> [OrderedJSON] {
        guard case .array(let conditions)? = status["conditions"] else { return [] }
        return conditions
    }
}
