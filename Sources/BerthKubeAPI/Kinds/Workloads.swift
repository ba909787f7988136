import BerthTemplate

/// apps/v1 and batch/v1: the defaults and checks of the workload kinds.
extension KubeKinds {
    /// A pod template's defaults (the spec's, as for pods, without what admission adds to pods).
    /// Template metadata carries `creationTimestamp: null`, as the 1.32 apiserver's encoding of an
    /// unset time in an embedded ObjectMeta.
    static func defaultTemplate(_ object: OrderedJSON, at path: [String] = ["spec", "template"]) throws(KubeAPIError) -> OrderedJSON {
        object.setting(path + ["spec"], to: try defaultPodSpec(object.value(at: path + ["spec"]) ?? .object([]), isPod: false))
            .withNullCreationTimestamp(at: path + ["metadata"])
    }

    static func admitDeployment(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = try defaultTemplate(object).defaulting(["spec", "replicas"], .int(1))
            .defaulting(["spec", "revisionHistoryLimit"], .int(10)).defaulting(["spec", "progressDeadlineSeconds"], .int(600))
            .defaulting(["spec", "strategy", "type"], .string("RollingUpdate"))
        if object.string("spec", "strategy", "type") == "RollingUpdate" {
            object = object.defaulting(["spec", "strategy", "rollingUpdate", "maxUnavailable"], .string("25%"))
                .defaulting(["spec", "strategy", "rollingUpdate", "maxSurge"], .string("25%"))
        }
        var causes = selectorProblems(object, kind: "deployment") + replicaProblems(object)
        causes += podSpecProblems(object.value(at: ["spec", "template", "spec"]) ?? .object([]), path: "spec.template.spec")
        causes += templateRestartPolicyProblems(object, allowed: ["Always"])
        if let type = object.string("spec", "strategy", "type"), !["Recreate", "RollingUpdate"].contains(type) {
            causes.append(unsupported("spec.strategy.type", type, ["Recreate", "RollingUpdate"]))
        } else if object.string("spec", "strategy", "type") == "Recreate", object.has("spec", "strategy", "rollingUpdate") {
            causes.append(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
        }
        return (object, causes)
    }

    static func admitReplicaSet(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        let object = try defaultTemplate(object).defaulting(["spec", "replicas"], .int(1))
        var causes = selectorProblems(object, kind: "replicaset") + replicaProblems(object)
        causes += podSpecProblems(object.value(at: ["spec", "template", "spec"]) ?? .object([]), path: "spec.template.spec")
        causes += templateRestartPolicyProblems(object, allowed: ["Always"])
        return (object, causes)
    }

    static func admitStatefulSet(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = try defaultTemplate(object).defaulting(["spec", "replicas"], .int(1))
            .defaulting(["spec", "podManagementPolicy"], .string("OrderedReady"))
            .defaulting(["spec", "revisionHistoryLimit"], .int(10))
            .defaulting(["spec", "updateStrategy", "type"], .string("RollingUpdate"))
            .defaulting(["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], .string("Retain"))
            .defaulting(["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"], .string("Retain"))
        if object.string("spec", "updateStrategy", "type") == "RollingUpdate" {
            object = object.defaulting(["spec", "updateStrategy", "rollingUpdate", "partition"], .int(0))
        }
        var claimCauses: [Cause] = []
        object = object.mappingArray(["spec", "volumeClaimTemplates"]) { claim in
            var claim = claim.defaulting(["apiVersion"], .string("v1")).defaulting(["kind"], .string("PersistentVolumeClaim"))
                .withNullCreationTimestamp(at: ["metadata"])
                .defaulting(["spec", "volumeMode"], .string("Filesystem")).defaulting(["status", "phase"], .string("Pending"))
            for part in ["requests", "limits"] where claim.has("spec", "resources", part) {
                if let canonical = try? canonicalQuantities(claim.value(at: ["spec", "resources", part])) {
                    claim = claim.setting(["spec", "resources", part], to: canonical)
                }
            }
            return claim
        }
        for (index, claim) in object.items("spec", "volumeClaimTemplates").enumerated() {
            claimCauses += claimSpecProblems(claim["spec"] ?? .object([]), path: "spec.volumeClaimTemplates[\(index)].spec")
        }
        var causes = selectorProblems(object, kind: "statefulset") + replicaProblems(object) + claimCauses
        // Mounts may name a claim template: each pod gets a volume of that name.
        let claimNames = object.items("spec", "volumeClaimTemplates").compactMap { $0.string("metadata", "name") }
        causes += podSpecProblems(object.value(at: ["spec", "template", "spec"]) ?? .object([]), path: "spec.template.spec", claimTemplates: claimNames)
        causes += templateRestartPolicyProblems(object, allowed: ["Always"])
        if let policy = object.string("spec", "podManagementPolicy"), !["OrderedReady", "Parallel"].contains(policy) {
            causes.append(invalid("spec.podManagementPolicy", quoted(policy), "must be 'OrderedReady' or 'Parallel'"))
        }
        return (object, causes)
    }

    static func admitDaemonSet(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = try defaultTemplate(object).defaulting(["spec", "revisionHistoryLimit"], .int(10))
            .defaulting(["spec", "updateStrategy", "type"], .string("RollingUpdate"))
        if object.string("spec", "updateStrategy", "type") == "RollingUpdate" {
            object = object.defaulting(["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], .int(1))
                .defaulting(["spec", "updateStrategy", "rollingUpdate", "maxSurge"], .int(0))
        }
        var causes = selectorProblems(object, kind: "daemonset")
        causes += podSpecProblems(object.value(at: ["spec", "template", "spec"]) ?? .object([]), path: "spec.template.spec")
        causes += templateRestartPolicyProblems(object, allowed: ["Always"])
        return (object, causes)
    }

    /// A new Job gets its generated selector (the uid label) and the matching template labels
    /// unless it asks for a manual selector.
    static func admitJob(_ object: OrderedJSON, creating: Bool) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = try jobSpecDefaults(object, at: ["spec"])
        var causes: [Cause] = []
        if creating, object["spec"]?["manualSelector"] != .bool(true) {
            let uid = object.string("metadata", "uid") ?? ""
            if object.has("spec", "selector") {
                causes.append(invalid("spec.selector", goLabelSelector(object.value(at: ["spec", "selector"])),
                                      "`selector` will be auto-generated"))
            }
            object = object.setting(["spec", "selector"], to: .object([("matchLabels", .stringMap(["batch.kubernetes.io/controller-uid": uid]))]))
            var labels = object.stringMap(at: ["spec", "template", "metadata", "labels"]) ?? [:]
            let name = object.string("metadata", "name") ?? ""
            for (key, value) in ["batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name] {
                labels[key] = value
            }
            object = object.setting(["spec", "template", "metadata", "labels"], to: .stringMap(labels))
        }
        if !creating || object["spec"]?["manualSelector"] == .bool(true) {
            causes += selectorProblems(object, kind: "job")
        }
        causes += jobSpecProblems(object, at: "spec")
        return (object, causes)
    }

    private static func jobSpecDefaults(_ object: OrderedJSON, at path: [String]) throws(KubeAPIError) -> OrderedJSON {
        var object = try defaultTemplate(object, at: path + ["template"])
        if !object.has(at: path + ["completions"]) && !object.has(at: path + ["parallelism"]) {
            object = object.setting(path + ["completions"], to: .int(1)).setting(path + ["parallelism"], to: .int(1))
        }
        return object.defaulting(path + ["parallelism"], .int(1))
            .defaulting(path + ["backoffLimit"], .int(6))
            .defaulting(path + ["completionMode"], .string("NonIndexed"))
            .defaulting(path + ["suspend"], .bool(false))
            .defaulting(path + ["podReplacementPolicy"], .string(object.has(at: path + ["podFailurePolicy"]) ? "Failed" : "TerminatingOrFailed"))
    }

    private static func jobSpecProblems(_ object: OrderedJSON, at path: String) -> [Cause] {
        let keys = path.split(separator: ".").map(String.init)
        var causes = podSpecProblems(object.value(at: keys + ["template", "spec"]) ?? .object([]), path: "\(path).template.spec")
        let policy = object.string(at: keys + ["template", "spec", "restartPolicy"]) ?? ""
        if !["OnFailure", "Never"].contains(policy) {
            causes.append(unsupported("\(path).template.spec.restartPolicy", policy, ["OnFailure", "Never"]))
        }
        for field in ["parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"] {
            if let value = object.value(at: keys + [field])?.int, value < 0 {
                causes.append(invalid("\(path).\(field)", String(value), "must be greater than or equal to 0"))
            }
        }
        if let value = object.value(at: keys + ["activeDeadlineSeconds"])?.int, value == 0 {
            causes.append(invalid("\(path).activeDeadlineSeconds", "0", "must be greater than 0"))
        }
        if let mode = object.string(at: keys + ["completionMode"]), !["NonIndexed", "Indexed"].contains(mode) {
            causes.append(unsupported("\(path).completionMode", mode, ["NonIndexed", "Indexed"]))
        }
        return causes
    }

    static func admitCronJob(_ object: OrderedJSON) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        var object = object.defaulting(["spec", "concurrencyPolicy"], .string("Allow")).defaulting(["spec", "suspend"], .bool(false))
            .defaulting(["spec", "successfulJobsHistoryLimit"], .int(3)).defaulting(["spec", "failedJobsHistoryLimit"], .int(1))
        object = try jobSpecDefaults(object, at: ["spec", "jobTemplate", "spec"]).withNullCreationTimestamp(at: ["spec", "jobTemplate", "metadata"])
        var causes: [Cause] = []
        let schedule = object.string("spec", "schedule") ?? ""
        if schedule.isEmpty {
            causes.append(required("spec.schedule"))
        } else if schedule.contains("TZ") {
            causes.append(invalid("spec.schedule", quoted(schedule), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
        } else if let problem = CronSchedule.problem(schedule) {
            causes.append(invalid("spec.schedule", quoted(schedule), problem))
        }
        if let policy = object.string("spec", "concurrencyPolicy"), !["Allow", "Forbid", "Replace"].contains(policy) {
            causes.append(unsupported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
        }
        causes += jobSpecProblems(object, at: "spec.jobTemplate.spec")
        return (object, causes)
    }

    /// A required selector that selects the template's labels.
    private static func selectorProblems(_ object: OrderedJSON, kind: String) -> [Cause] {
        var causes: [Cause] = []
        let selector = object.value(at: ["spec", "selector"])
        if selector == nil || selector == .null {
            causes.append(required("spec.selector"))
        } else if (selector?.value(at: ["matchLabels"])?.members.isEmpty ?? true) && (selector?.items("matchExpressions").isEmpty ?? true) {
            causes.append(invalid("spec.selector", goLabelSelector(selector), "empty selector is invalid for \(kind)"))
        }
        let labels = object.stringMap(at: ["spec", "template", "metadata", "labels"]) ?? [:]
        if !selects(selector, labels) {
            causes.append(invalid("spec.template.metadata.labels", goStringMap(labels), "`selector` does not match template `labels`"))
        }
        return causes
    }

    private static func replicaProblems(_ object: OrderedJSON) -> [Cause] {
        guard let replicas = object.value(at: ["spec", "replicas"])?.int, replicas < 0 else { return [] }
        return [invalid("spec.replicas", String(replicas), "must be greater than or equal to 0")]
    }

    private static func templateRestartPolicyProblems(_ object: OrderedJSON, allowed: [String]) -> [Cause] {
        guard let policy = object.string("spec", "template", "spec", "restartPolicy"), !allowed.contains(policy) else { return [] }
        return [unsupported("spec.template.spec.restartPolicy", policy, allowed)]
    }

    /// The checks only an update has: selectors are immutable, and so is most of a StatefulSet.
    static func workloadUpdateProblems(_ new: OrderedJSON, old: OrderedJSON, _ resource: KubeResource) -> [Cause] {
        var causes: [Cause] = []
        if ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"].contains(resource.kind),
           !KubeObjectStore.sameContent(new.value(at: ["spec", "selector"]), old.value(at: ["spec", "selector"])) {
            causes.append(invalid("spec.selector", goLabelSelector(new.value(at: ["spec", "selector"])), "field is immutable"))
        }
        if resource.kind == "StatefulSet" {
            var newSpec = new["spec"] ?? .object([])
            let oldSpec = old["spec"] ?? .object([])
            for field in ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "selector"] {
                newSpec = newSpec.setting([field], to: oldSpec[field])
            }
            if !KubeObjectStore.sameContent(newSpec, oldSpec) {
                causes.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
            }
        }
        return causes
    }
}
