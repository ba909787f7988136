import BerthKubeAPI
import BerthTemplate
import Foundation

/// Starts a CronJob's Jobs at its scheduled times (upstream's cronjob controller v2): one Job per
/// scheduled time, named `<cronjob>-<scheduled time in Unix minutes>`, honouring the concurrency
/// policy, `startingDeadlineSeconds` and `suspend`, and keeping only the newest finished Jobs.
struct CronJobController: KubeReconciler {
    let store: KubeObjectStore
    let recorder: KubeEventRecorder
    let now: @Sendable () -> Date
    let name = "cronjob-controller"

    static let scheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"

    init(store: KubeObjectStore, host: String, now: @escaping @Sendable () -> Date = { Date.now }) {
        self.store = store
        self.recorder = KubeEventRecorder(store: store, component: "cronjob-controller", host: host)
        self.now = now
    }

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.cronJobs), .controlled(KubeResourceRegistry.jobs, byKind: "CronJob")]
    }

    struct Spec: Decodable {
        var schedule: String
        var timeZone: String?
        var startingDeadlineSeconds: Int?
        var concurrencyPolicy: String?
        var suspend: Bool?
        var successfulJobsHistoryLimit: Int?
        var failedJobsHistoryLimit: Int?
    }

    struct Reference: Codable, Equatable {
        var apiVersion: String?
        var kind: String?
        var name: String?
        var namespace: String?
        var resourceVersion: String?
        var uid: String?
    }

    struct Status: Codable, Equatable {
        var active: [Reference]?
        var lastScheduleTime: String?
        var lastSuccessfulTime: String?
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard let cronJob = try? store.get(KubeResourceRegistry.cronJobs, namespace: key.namespace, name: key.name),
              cronJob.value(at: ["metadata", "deletionTimestamp"]) == nil else { return nil }
        let spec = try (cronJob["spec"] ?? .object([])).decode(Spec.self)
        var status = try cronJob["status"].map { try $0.decode(Status.self) } ?? Status()
        let requeue = try sync(cronJob, key: key, spec: spec, status: &status)
        try store.updateStatus(KubeResourceRegistry.cronJobs, cronJob, to: try OrderedJSON(encoding: status))
        return requeue
    }

    /// Starts what is due and answers when the next scheduled time comes; `status` gets the outcome.
    private func sync(_ cronJob: OrderedJSON, key: KubeObjectKey, spec: Spec, status: inout Status) throws -> Duration? {
        let now = now()
        let jobs = try store.controlled(KubeResourceRegistry.jobs, by: cronJob)

        // The active list: the running Jobs, those already listed first.
        let wasActive = Set((status.active ?? []).compactMap(\.uid))
        var active: [Reference] = []
        for job in jobs.sorted(by: { Self.listedFirst($0, $1, wasActive) }) {
            let uid = job.string("metadata", "uid") ?? ""
            guard let outcome = Self.finished(job) else {
                active.append(Self.reference(to: job))
                continue
            }
            guard wasActive.contains(uid) else { continue }
            recorder.record(cronJob, .normal, reason: "SawCompletedJob", message: "Saw completed job: \(job.string("metadata", "name") ?? ""), condition: \(outcome)")
            if outcome == "Complete", let completed = KubeTime.parse(job.string("status", "completionTime")),
               KubeTime.parse(status.lastSuccessfulTime).map({ $0 < completed }) ?? true {
                status.lastSuccessfulTime = KubeTime.format(completed)
            }
        }
        try removeOldJobs(jobs, of: cronJob, keepSucceeded: spec.successfulJobsHistoryLimit ?? 3, keepFailed: spec.failedJobsHistoryLimit ?? 1)
        status.active = active.nilIfEmpty

        if spec.suspend == true { return nil }
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(parsing: spec.schedule)
        } catch {
            recorder.record(cronJob, .warning, reason: "UnparseableSchedule", message: "unparseable schedule: \"\(spec.schedule)\" : \(error.description)")
            return nil
        }
        var zone = TimeZone(identifier: "UTC") ?? .gmt
        if let name = spec.timeZone {
            guard let named = TimeZone(identifier: name) else {
                recorder.record(cronJob, .warning, reason: "UnknownTimeZone", message: "invalid timeZone: \"\(name)\": unknown time zone \(name)")
                return nil
            }
            zone = named
        }
        var earliest = KubeTime.parse(status.lastScheduleTime) ?? KubeTime.parse(cronJob.string("metadata", "creationTimestamp")) ?? now
        if let deadline = spec.startingDeadlineSeconds { earliest = max(earliest, now.addingTimeInterval(-TimeInterval(deadline))) }
        let following = schedule.next(after: now, in: zone)
        let requeue = following.map { KubeTime.until($0, from: now) }
        let (latest, missed) = schedule.mostRecent(after: earliest, until: now, in: zone)
        guard let scheduled = latest else { return requeue }
        if missed > 100 {
            recorder.record(cronJob, .warning, reason: "TooManyMissedTimes",
                            message: "too many missed start times: \(missed). Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        }
        let name = "\(key.name)-\(Int64(scheduled.timeIntervalSince1970) / 60)"
        if jobs.contains(where: { $0.string("metadata", "name") == name }) || active.contains(where: { $0.name == name }) { return requeue }
        switch spec.concurrencyPolicy ?? "Allow" {
        case "Forbid" where !active.isEmpty:
            recorder.record(cronJob, .normal, reason: "JobAlreadyActive", message: "Not starting job because prior execution is running and concurrency policy is Forbid")
            return requeue
        case "Replace":
            for reference in active {
                guard let job = jobs.first(where: { $0.string("metadata", "uid") == reference.uid }) else { continue }
                try deleteJob(job, of: cronJob)
            }
            active = []
            status.active = nil
        default:
            break
        }
        let job: OrderedJSON
        do {
            job = try store.create(KubeResourceRegistry.jobs, namespace: key.namespace,
                                   object: Self.job(named: name, from: cronJob, scheduled: scheduled, zone: zone))
        } catch let error as KubeAPIError where error.code == 409 {
            return requeue
        } catch let error as KubeAPIError {
            recorder.record(cronJob, .warning, reason: "FailedCreate", message: "Error creating job: \(error.message)")
            throw error
        }
        recorder.record(cronJob, .normal, reason: "SuccessfulCreate", message: "Created job \(name)")
        active.append(Self.reference(to: job))
        status.active = active
        status.lastScheduleTime = KubeTime.format(scheduled)
        return requeue
    }

    /// The Job of the scheduled time: the template's labels and annotations, the scheduled-time
    /// annotation (RFC 3339 in the schedule's zone), the CronJob as its controller.
    static func job(named name: String, from cronJob: OrderedJSON, scheduled: Date, zone: TimeZone) -> OrderedJSON {
        let template = cronJob.value(at: ["spec", "jobTemplate"]) ?? .object([])
        var annotations = template.stringMap(at: ["metadata", "annotations"]) ?? [:]
        var style = Date.ISO8601FormatStyle(timeZone: zone)
        style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
        annotations[scheduledTimestamp] = scheduled.formatted(style)
        var metadata: [(String, OrderedJSON)] = [("name", .string(name))]
        if let labels = template.value(at: ["metadata", "labels"]) { metadata.append(("labels", labels)) }
        metadata.append(("annotations", .stringMap(annotations)))
        metadata.append(("ownerReferences", .array([OwnerRefs.controllerReference(to: cronJob)])))
        return .object([
            ("apiVersion", .string("batch/v1")), ("kind", .string("Job")),
            ("metadata", .object(metadata)),
            ("spec", template["spec"] ?? .object([])),
        ])
    }

    /// "Complete" or "Failed" for a finished Job; nil while it runs.
    static func finished(_ job: OrderedJSON) -> String? {
        guard case .array(let conditions)? = job.value(at: ["status", "conditions"]) else { return nil }
        return conditions.first { ($0.string("type") == "Complete" || $0.string("type") == "Failed") && $0.string("status") == "True" }?.string("type")
    }

    static func reference(to job: OrderedJSON) -> Reference {
        Reference(apiVersion: "batch/v1", kind: "Job", name: job.string("metadata", "name"), namespace: job.string("metadata", "namespace"),
                  resourceVersion: job.string("metadata", "resourceVersion"), uid: job.string("metadata", "uid"))
    }

    private static func listedFirst(_ a: OrderedJSON, _ b: OrderedJSON, _ listed: Set<String>) -> Bool {
        let inA = listed.contains(a.string("metadata", "uid") ?? ""), inB = listed.contains(b.string("metadata", "uid") ?? "")
        if inA != inB { return inA }
        return (a.string("metadata", "creationTimestamp") ?? "", a.string("metadata", "name") ?? "")
            < (b.string("metadata", "creationTimestamp") ?? "", b.string("metadata", "name") ?? "")
    }

    /// Deletes the oldest finished Jobs beyond the history limits.
    private func removeOldJobs(_ jobs: [OrderedJSON], of cronJob: OrderedJSON, keepSucceeded: Int, keepFailed: Int) throws {
        func started(_ job: OrderedJSON) -> String { job.string("status", "startTime") ?? job.string("metadata", "creationTimestamp") ?? "" }
        for (outcome, keep) in [("Complete", keepSucceeded), ("Failed", keepFailed)] {
            let finished = jobs.filter { Self.finished($0) == outcome }.sorted { (started($0), $0.string("metadata", "name") ?? "") < (started($1), $1.string("metadata", "name") ?? "") }
            for job in finished.dropLast(max(0, keep)) { try deleteJob(job, of: cronJob) }
        }
    }

    private func deleteJob(_ job: OrderedJSON, of cronJob: OrderedJSON) throws {
        let name = job.string("metadata", "name") ?? ""
        do {
            _ = try store.delete(KubeResourceRegistry.jobs, namespace: job.string("metadata", "namespace"), name: name,
                                 options: KubeDeleteOptions(preconditionUID: job.string("metadata", "uid"), propagationPolicy: .background))
            recorder.record(cronJob, .normal, reason: "SuccessfulDelete", message: "Deleted job \(name)")
        } catch let error as KubeAPIError where error.code == 404 {}
    }
}
