import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

/// Runs each Job's pods to completion (upstream's job controller), and deletes finished Jobs
/// whose `ttlSecondsAfterFinished` has passed (the TTL-after-finished controller).
///
/// Pods carry the `batch.kubernetes.io/job-tracking` finalizer while they count: a finished pod is
/// first recorded in `status.uncountedTerminatedPods`, then loses the finalizer, then moves into
/// `succeeded`/`failed`, so a pod is counted exactly once even if it is deleted right away.
final class JobController: KubeReconciler {
    let store: KubeObjectStore
    let recorder: KubeEventRecorder
    let pods: PodControl
    let now: @Sendable () -> Date
    let name = "job-controller"

    static let trackingFinalizer = "batch.kubernetes.io/job-tracking"
    static let completionIndex = "batch.kubernetes.io/job-completion-index"
    /// Replacements after failures wait 10 s, doubling, up to 10 minutes.
    static let failureBackoff = (base: 10.0, limit: 600.0)

    /// When each Job (by uid) last saw a pod fail, for the replacement back-off.
    private let lastFailure = Mutex<[String: Date]>([:])

    init(store: KubeObjectStore, host: String, now: @escaping @Sendable () -> Date = { Date.now }) {
        self.store = store
        self.recorder = KubeEventRecorder(store: store, component: "job-controller", host: host)
        self.pods = PodControl(store: store, recorder: recorder)
        self.now = now
    }

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.jobs), .controlled(KubeResourceRegistry.pods, byKind: "Job")]
    }

    struct Spec: Decodable {
        struct Template: Decodable {
            struct PodSpecView: Decodable { var restartPolicy: String? }
            var spec: PodSpecView?
        }

        var parallelism: Int?
        var completions: Int?
        var activeDeadlineSeconds: Int?
        var backoffLimit: Int?
        var ttlSecondsAfterFinished: Int?
        var completionMode: String?
        var suspend: Bool?
        var selector: LabelSelectorSpec?
        var template: Template?
    }

    struct Status: Codable, Equatable {
        struct Uncounted: Codable, Equatable {
            var succeeded: [String]?
            var failed: [String]?
            var isEmpty: Bool { (succeeded ?? []).isEmpty && (failed ?? []).isEmpty }
        }

        var conditions: [WorkloadCondition]?
        var startTime: String?
        var completionTime: String?
        var active: Int?
        var succeeded: Int?
        var failed: Int?
        var terminating: Int?
        var completedIndexes: String?
        var uncountedTerminatedPods: Uncounted?
        var ready: Int?
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard let job = try? store.get(KubeResourceRegistry.jobs, namespace: key.namespace, name: key.name) else {
            // The Job is gone: its pods must not be kept by the finalizer that only it removes.
            try releaseFinalizers(try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items.filter { pod in
                (try? pod.value(at: ["metadata"])?.decode(ObjectMeta.self).controller).map { $0?.kind == "Job" && $0?.name == key.name } == true
            })
            return nil
        }
        let uid = job.string("metadata", "uid") ?? ""
        let spec = try (job["spec"] ?? .object([])).decode(Spec.self)
        var status = try job["status"].map { try $0.decode(Status.self) } ?? Status()
        let now = now()
        var conditions = status.conditions ?? []
        let selector = spec.selector?.selector ?? LabelSelector(requirements: [.equals("batch.kubernetes.io/controller-uid", uid)])
        var owned = try OwnerRefs.claim(try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items.filter {
            selector.matches($0.stringMap(at: ["metadata", "labels"]) ?? [:]) || OwnerRefs.controllerUID(of: $0) == uid
        }, resource: KubeResourceRegistry.pods, owner: job, selector: selector, store: store)

        if conditions.isTrue("Complete") || conditions.isTrue("Failed") {
            try releaseFinalizers(owned)
            return try expire(job, spec: spec, status: status, now: now)
        }
        if job.value(at: ["metadata", "deletionTimestamp"]) != nil {
            try releaseFinalizers(owned)
            return nil
        }

        let indexed = spec.completionMode == "Indexed"
        let suspended = spec.suspend == true
        var pending = conditions.first { ($0.type == "SuccessCriteriaMet" || $0.type == "FailureTarget") && $0.status == "True" }

        // Count finished pods: record them as uncounted, release their finalizer, then count them.
        var uncounted = status.uncountedTerminatedPods ?? Status.Uncounted()
        var completed = Self.indexes(status.completedIndexes)
        var recorded = Set((uncounted.succeeded ?? []) + (uncounted.failed ?? []))
        var newlyFailed = false
        for pod in owned where pod.finalizers.contains(Self.trackingFinalizer) {
            let podUID = pod.string("metadata", "uid") ?? ""
            guard !recorded.contains(podUID) else { continue }
            if PodFacts.phase(pod) == "Succeeded" {
                uncounted.succeeded = (uncounted.succeeded ?? []) + [podUID]
                if indexed, let index = PodFacts.label(pod, Self.completionIndex).flatMap(Int.init) ?? Self.annotatedIndex(pod) {
                    completed.insert(index)
                }
            } else if PodFacts.phase(pod) == "Failed" || (PodFacts.isDeleting(pod) && !suspended) || pending != nil {
                uncounted.failed = (uncounted.failed ?? []) + [podUID]
                newlyFailed = newlyFailed || PodFacts.phase(pod) == "Failed"
            } else {
                continue
            }
            recorded.insert(podUID)
        }
        if newlyFailed { lastFailure.withLock { $0[uid] = now } }
        if uncounted != (status.uncountedTerminatedPods ?? Status.Uncounted()) || Self.render(completed) != status.completedIndexes {
            status.uncountedTerminatedPods = uncounted
            status.completedIndexes = indexed ? Self.render(completed) : nil
            _ = try write(job, status)
        }
        for (index, pod) in owned.enumerated() where recorded.contains(pod.string("metadata", "uid") ?? "")
            && pod.finalizers.contains(Self.trackingFinalizer) {
            owned[index] = try releaseFinalizer(pod)
        }
        let stillTracked = Set(owned.filter { $0.finalizers.contains(Self.trackingFinalizer) }.compactMap { $0.string("metadata", "uid") })
        status.succeeded = (status.succeeded ?? 0) + (uncounted.succeeded ?? []).filter { !stillTracked.contains($0) }.count
        status.failed = (status.failed ?? 0) + (uncounted.failed ?? []).filter { !stillTracked.contains($0) }.count
        uncounted.succeeded = (uncounted.succeeded ?? []).filter(stillTracked.contains)
        uncounted.failed = (uncounted.failed ?? []).filter(stillTracked.contains)
        status.uncountedTerminatedPods = Status.Uncounted(succeeded: uncounted.succeeded?.nilIfEmpty, failed: uncounted.failed?.nilIfEmpty)

        var active = owned.filter(PodState.isActive)
        let succeeded = (status.succeeded ?? 0) + (uncounted.succeeded ?? []).count
        let failed = (status.failed ?? 0) + (uncounted.failed ?? []).count
        let backoffLimit = spec.backoffLimit ?? 6
        let parallelism = spec.parallelism ?? 1
        var requeue: Duration?

        // Decide whether the Job has failed or succeeded.
        if pending == nil, !suspended {
            let restarts = spec.template?.spec?.restartPolicy == "OnFailure" ? active.reduce(0) { $0 + PodFacts.restarts($1) } : 0
            let restartsExceeded = spec.template?.spec?.restartPolicy == "OnFailure" && (backoffLimit == 0 ? restarts > 0 : restarts >= backoffLimit)
            let started = KubeTime.parse(status.startTime)
            if failed > backoffLimit || restartsExceeded {
                pending = WorkloadCondition(type: "FailureTarget", status: "True", reason: "BackoffLimitExceeded",
                                            message: "Job has reached the specified backoff limit")
            } else if let deadline = spec.activeDeadlineSeconds, let started {
                let end = started.addingTimeInterval(TimeInterval(deadline))
                if end <= now {
                    pending = WorkloadCondition(type: "FailureTarget", status: "True", reason: "DeadlineExceeded",
                                                message: "Job was active longer than specified deadline")
                } else {
                    requeue = KubeTime.until(end, from: now)
                }
            }
            if pending == nil {
                let done: Bool
                if let completions = spec.completions {
                    done = indexed ? completed.filter { $0 < completions }.count >= completions : succeeded >= completions
                } else {
                    done = succeeded > 0 && active.isEmpty
                }
                if done {
                    pending = WorkloadCondition(type: "SuccessCriteriaMet", status: "True", reason: "CompletionsReached",
                                                message: "Reached expected number of succeeded pods")
                }
            }
            if let pending {
                conditions.set(pending.type, "True", reason: pending.reason ?? "", message: pending.message ?? "", now: now)
                if pending.type == "FailureTarget" { recorder.record(job, .warning, reason: pending.reason ?? "", message: pending.message ?? "") }
            }
        }

        if let pending {
            for pod in active { try pods.deletePod(pod, owner: job) }
            if !active.isEmpty { owned = try store.controlled(KubeResourceRegistry.pods, by: job) }
            active = []
            let terminating = owned.contains { PodFacts.isDeleting($0) && !PodFacts.isTerminal($0) }
            if !terminating, (status.uncountedTerminatedPods ?? Status.Uncounted()).isEmpty {
                if pending.type == "SuccessCriteriaMet" {
                    conditions.set("Complete", "True", reason: pending.reason ?? "", message: pending.message ?? "", now: now)
                    status.completionTime = KubeTime.format(now)
                    recorder.record(job, .normal, reason: "Completed", message: "Job completed")
                } else {
                    conditions.set("Failed", "True", reason: pending.reason ?? "", message: pending.message ?? "", now: now)
                }
            }
        } else if suspended {
            for pod in active { try pods.deletePod(pod, owner: job) }
            if !active.isEmpty { owned = try store.controlled(KubeResourceRegistry.pods, by: job) }
            active = []
            if !conditions.isTrue("Suspended") {
                conditions.set("Suspended", "True", reason: "JobSuspended", message: "Job suspended", now: now)
                recorder.record(job, .normal, reason: "Suspended", message: "Job suspended")
            }
        } else {
            if conditions.isTrue("Suspended") {
                conditions.set("Suspended", "False", reason: "JobResumed", message: "Job resumed", now: now)
                recorder.record(job, .normal, reason: "Resumed", message: "Job resumed")
                status.startTime = KubeTime.format(now)
                if let deadline = spec.activeDeadlineSeconds { requeue = .seconds(deadline) }
            }
            if status.startTime == nil {
                status.startTime = KubeTime.format(now)
                if let deadline = spec.activeDeadlineSeconds { requeue = .seconds(deadline) }
            }
            var want = parallelism
            if let completions = spec.completions {
                want = min(parallelism, max(0, completions - (indexed ? completed.count : succeeded)))
            } else if succeeded > 0 {
                want = min(want, active.count)
            }
            if active.count > want {
                let extra = PodState.deletionOrder(active).prefix(active.count - want)
                for pod in extra { try pods.deletePod(pod, owner: job) }
                active.removeAll { pod in extra.contains { $0.string("metadata", "uid") == pod.string("metadata", "uid") } }
            } else if active.count < want {
                if let wait = backoff(job: uid, failed: failed, now: now) {
                    requeue = min(requeue ?? wait, wait)
                } else {
                    var free: [Int?] = Array(repeating: nil, count: want - active.count)
                    if indexed, let completions = spec.completions {
                        let running = Set(active.compactMap { PodFacts.label($0, Self.completionIndex).flatMap(Int.init) ?? Self.annotatedIndex($0) })
                        free = Array((0..<completions).filter { !completed.contains($0) && !running.contains($0) }.prefix(want - active.count))
                    }
                    for index in free { active.append(try createPod(for: job, index: index)) }
                }
            }
        }

        status.conditions = conditions.isEmpty ? nil : conditions
        status.active = active.isEmpty ? nil : active.count
        status.ready = active.filter(PodState.isReady).count
        status.terminating = owned.filter { PodFacts.isDeleting($0) && !PodFacts.isTerminal($0) }.count
        status.succeeded = status.succeeded == 0 ? nil : status.succeeded
        status.failed = status.failed == 0 ? nil : status.failed
        status.completedIndexes = indexed ? Self.render(completed) : nil
        let written = try write(job, status)
        if conditions.isTrue("Complete") || conditions.isTrue("Failed") {
            return try expire(written, spec: spec, status: status, now: now)
        }
        return requeue
    }

    /// A new pod for `job`: the template's pod, with the Job's labels and the tracking finalizer;
    /// in Indexed mode named `<job>-<index>-xxxxx` and carrying its completion index.
    private func createPod(for job: OrderedJSON, index: Int?) throws -> OrderedJSON {
        let jobName = job.string("metadata", "name") ?? ""
        let uid = job.string("metadata", "uid") ?? ""
        var template = job.value(at: ["spec", "template"]) ?? .object([])
        var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
        for (key, value) in ["batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": jobName,
                             "controller-uid": uid, "job-name": jobName] where labels[key] == nil {
            labels[key] = value
        }
        var generateName = jobName + "-"
        if let index {
            generateName = "\(jobName)-\(index)-"
            labels[Self.completionIndex] = String(index)
            var annotations = template.stringMap(at: ["metadata", "annotations"]) ?? [:]
            annotations[Self.completionIndex] = String(index)
            template = template.setting(["metadata", "annotations"], to: .stringMap(annotations))
            if template.string("spec", "hostname") == nil {
                template = template.setting(["spec", "hostname"], to: .string("\(jobName)-\(index)"))
            }
            template = Self.addingIndexEnvironment(to: template)
        }
        template = template.setting(["metadata", "labels"], to: .stringMap(labels))
        template = template.setting(["metadata", "finalizers"], to: .strings(template.finalizers + [Self.trackingFinalizer]))
        let pod = PodControl.pod(from: template, owner: job, generateName: generateName)
        do {
            let created = try store.create(KubeResourceRegistry.pods, namespace: job.string("metadata", "namespace"), object: pod)
            recorder.record(job, .normal, reason: "SuccessfulCreate", message: "Created pod: \(PodFacts.name(created))")
            return created
        } catch let error as KubeAPIError {
            recorder.record(job, .warning, reason: "FailedCreate", message: "Error creating: \(error.message)")
            throw error
        }
    }

    /// Every container gets `JOB_COMPLETION_INDEX` from the pod's completion-index annotation.
    static func addingIndexEnvironment(to template: OrderedJSON) -> OrderedJSON {
        let variable = OrderedJSON.object([
            ("name", .string("JOB_COMPLETION_INDEX")),
            ("valueFrom", .object([("fieldRef", .object([("fieldPath", .string("metadata.annotations['\(completionIndex)']"))]))])),
        ])
        var template = template
        for member in ["initContainers", "containers"] {
            guard case .array(let containers)? = template.value(at: ["spec", member]) else { continue }
            template = template.setting(["spec", member], to: .array(containers.map { container in
                var env: [OrderedJSON] = []
                if case .array(let existing)? = container["env"] { env = existing }
                guard !env.contains(where: { $0.string("name") == "JOB_COMPLETION_INDEX" }) else { return container }
                return container.setting(["env"], to: .array(env + [variable]))
            }))
        }
        return template
    }

    /// The wait before a replacement pod may start after `failed` failures; nil when none is due.
    private func backoff(job uid: String, failed: Int, now: Date) -> Duration? {
        guard failed > 0, let last = lastFailure.withLock({ $0[uid] }) else { return nil }
        let delay = min(Self.failureBackoff.base * pow(2, Double(failed - 1)), Self.failureBackoff.limit)
        let end = last.addingTimeInterval(delay)
        return end > now ? KubeTime.until(end, from: now) : nil
    }

    /// Deletes a finished Job with its pods once its TTL has passed; otherwise when to look again.
    private func expire(_ job: OrderedJSON, spec: Spec, status: Status, now: Date) throws -> Duration? {
        guard let ttl = spec.ttlSecondsAfterFinished else { return nil }
        let finished = KubeTime.parse(status.completionTime)
            ?? (status.conditions ?? []).first { ($0.type == "Complete" || $0.type == "Failed") && $0.status == "True" }
            .flatMap { KubeTime.parse($0.lastTransitionTime) } ?? now
        let end = finished.addingTimeInterval(TimeInterval(ttl))
        guard end <= now else { return KubeTime.until(end, from: now) }
        let namespace = job.string("metadata", "namespace")
        for pod in try store.controlled(KubeResourceRegistry.pods, by: job) {
            let released = try releaseFinalizer(pod)
            do {
                _ = try store.delete(KubeResourceRegistry.pods, namespace: namespace, name: PodFacts.name(released))
            } catch let error as KubeAPIError where error.code == 404 {}
        }
        do {
            // Its pods are gone already; Background keeps a Job's default (Orphan) from holding it.
            _ = try store.delete(KubeResourceRegistry.jobs, namespace: namespace, name: job.string("metadata", "name") ?? "",
                                 options: KubeDeleteOptions(preconditionUID: job.string("metadata", "uid"), propagationPolicy: .background))
        } catch let error as KubeAPIError where error.code == 404 {}
        lastFailure.withLock { _ = $0.removeValue(forKey: job.string("metadata", "uid") ?? "") }
        return nil
    }

    private func releaseFinalizers(_ owned: [OrderedJSON]) throws {
        for pod in owned where pod.finalizers.contains(Self.trackingFinalizer) { _ = try releaseFinalizer(pod) }
    }

    @discardableResult
    private func releaseFinalizer(_ pod: OrderedJSON) throws -> OrderedJSON {
        guard pod.finalizers.contains(Self.trackingFinalizer) else { return pod }
        do {
            return try store.replace(KubeResourceRegistry.pods, namespace: pod.string("metadata", "namespace"), name: PodFacts.name(pod),
                                     object: pod.removingFinalizer(Self.trackingFinalizer))
        } catch let error as KubeAPIError where error.code == 404 {
            return pod.removingFinalizer(Self.trackingFinalizer)
        }
    }

    private func write(_ job: OrderedJSON, _ status: Status) throws -> OrderedJSON {
        try store.updateStatus(KubeResourceRegistry.jobs, job, to: try OrderedJSON(encoding: status))
    }

    static func annotatedIndex(_ pod: OrderedJSON) -> Int? {
        pod.stringMap(at: ["metadata", "annotations"])?[completionIndex].flatMap(Int.init)
    }

    /// `status.completedIndexes` ("1,3-5") as a set, and back.
    static func indexes(_ text: String?) -> Set<Int> {
        var result: Set<Int> = []
        for part in (text ?? "").split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] { result.formUnion(bounds[0]...bounds[1]) } else if bounds.count == 1 { result.insert(bounds[0]) }
        }
        return result
    }

    static func render(_ indexes: Set<Int>) -> String? {
        let sorted = indexes.sorted()
        guard var start = sorted.first else { return nil }
        var parts: [String] = []
        var end = start
        for value in sorted.dropFirst() {
            if value == end + 1 { end = value; continue }
            parts.append(start == end ? "\(start)" : "\(start)-\(end)")
            start = value
            end = value
        }
        parts.append(start == end ? "\(start)" : "\(start)-\(end)")
        return parts.joined(separator: ",")
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
