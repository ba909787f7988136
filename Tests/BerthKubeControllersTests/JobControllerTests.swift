import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeControllers

@Suite struct JobControllerTests {
    static func job(_ name: String, spec: String, restartPolicy: String = "Never") throws -> OrderedJSON {
        try object("""
            {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"\(name)"},"spec":{\(spec)\(spec.isEmpty ? "" : ",")
             "template":{"metadata":{"labels":{"app":"\(name)"}},"spec":{"restartPolicy":"\(restartPolicy)",
             "containers":[{"name":"main","image":"busybox","command":["true"]}]}}}}
            """)
    }

    static func start(_ harness: ControllerHarness) throws -> FakeKubelet {
        let store = harness.store
        let controller = JobController(store: store, host: "node")
        harness.start { await KubeReconcileLoop(store: store).run(controller) }
        return FakeKubelet(store: store)
    }

    static func active(_ kubelet: FakeKubelet) throws -> [OrderedJSON] {
        try kubelet.pods().filter(PodState.isActive)
    }

    @Test func completionsRunWithAtMostParallelismPodsAtOnce() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default", object: Self.job("pi", spec: #""completions":4,"parallelism":2"#))
        var finished = 0
        var mostActive = 0
        while finished < 4 {
            let expected = min(2, 4 - finished)
            #expect(await harness.eventually { try Self.active(kubelet).count == expected })
            let active = try Self.active(kubelet)
            mostActive = max(mostActive, active.count)
            let pod = try #require(active.first)
            #expect(PodFacts.name(pod).hasPrefix("pi-") && PodFacts.name(pod).count == "pi-".count + 5)
            #expect(PodFacts.label(pod, "batch.kubernetes.io/job-name") == "pi")
            #expect(pod.finalizers == [JobController.trackingFinalizer])
            try kubelet.set(PodFacts.name(pod), phase: "Succeeded")
            finished += 1
            #expect(await harness.eventually {
                try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "pi").value(at: ["status", "succeeded"])?.int == finished
            })
        }
        #expect(mostActive == 2)
        #expect(await harness.eventually {
            try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "pi").condition("Complete")?.string("status") == "True"
        })
        let job = try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "pi")
        #expect(job.condition("SuccessCriteriaMet")?.string("reason") == "CompletionsReached")
        #expect(job.condition("Complete")?.string("message") == "Reached expected number of succeeded pods")
        #expect(job.string("status", "completionTime") != nil && job.string("status", "startTime") != nil)
        #expect(job.value(at: ["status", "active"]) == nil && job.value(at: ["status", "failed"]) == nil)
        #expect(try kubelet.pods().count == 4 && kubelet.pods().allSatisfy { $0.finalizers.isEmpty })
        let events = try reasons(store, about: "pi")
        #expect(events.filter { $0 == "SuccessfulCreate" }.count == 4 && events.contains("Completed"))
    }

    @Test func failuresBeyondTheBackoffLimitFailTheJob() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default", object: Self.job("flaky", spec: #""backoffLimit":1"#))
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        let first = PodFacts.name(try #require(try Self.active(kubelet).first))
        try kubelet.set(first, phase: "Failed")
        // The replacement comes after the 10 s back-off.
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        let job = { try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "flaky") }
        #expect(try job().value(at: ["status", "failed"])?.int == 1)
        #expect(try job().condition("Failed") == nil)
        let second = PodFacts.name(try #require(try Self.active(kubelet).first))
        #expect(second != first)
        try kubelet.set(second, phase: "Failed")
        #expect(await harness.eventually { try job().condition("Failed")?.string("status") == "True" })
        #expect(try job().condition("Failed")?.string("reason") == "BackoffLimitExceeded")
        #expect(try job().condition("FailureTarget")?.string("message") == "Job has reached the specified backoff limit")
        #expect(try job().value(at: ["status", "failed"])?.int == 2)
        #expect(try job().string("status", "completionTime") == nil)
        #expect(try reasons(store, about: "flaky").contains("BackoffLimitExceeded"))
        #expect(try Self.active(kubelet).isEmpty)
    }

    @Test func onFailureRestartsCountTowardTheBackoffLimit() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default",
                             object: Self.job("restarts", spec: #""backoffLimit":2"#, restartPolicy: "OnFailure"))
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        let pod = PodFacts.name(try #require(try Self.active(kubelet).first))
        try kubelet.set(pod, phase: "Running", restarts: 1)
        let job = { try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "restarts") }
        #expect(await harness.eventually { try job().value(at: ["status", "ready"])?.int == 1 })
        #expect(try job().condition("Failed") == nil)
        try kubelet.set(pod, phase: "Running", restarts: 2)
        #expect(await harness.eventually { try job().condition("Failed")?.string("reason") == "BackoffLimitExceeded" })
        // The pod was stopped before the Job was marked Failed, and counted as a failure.
        #expect(kubelet.pod(pod) == nil)
        #expect(try job().value(at: ["status", "failed"])?.int == 1)
    }

    @Test func anActiveDeadlineEndsTheJob() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default", object: Self.job("slow", spec: #""activeDeadlineSeconds":1"#))
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        let job = { try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "slow") }
        #expect(await harness.eventually { try job().condition("Failed")?.string("reason") == "DeadlineExceeded" })
        #expect(try job().condition("Failed")?.string("message") == "Job was active longer than specified deadline")
        #expect(try Self.active(kubelet).isEmpty)
    }

    @Test func aFinishedJobGoesWithItsPodsAfterItsTTL() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default", object: Self.job("once", spec: #""ttlSecondsAfterFinished":1"#))
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        try kubelet.set(PodFacts.name(try #require(try Self.active(kubelet).first)), phase: "Succeeded")
        #expect(await harness.eventually { (try? store.get(KubeResourceRegistry.jobs, namespace: "default", name: "once")) == nil })
        #expect(try kubelet.pods().isEmpty)
    }

    @Test func indexedPodsCarryTheirCompletionIndex() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default",
                             object: Self.job("idx", spec: #""completions":3,"parallelism":3,"completionMode":"Indexed""#))
        #expect(await harness.eventually { try Self.active(kubelet).count == 3 })
        let pods = try Self.active(kubelet).sorted { PodFacts.name($0) < PodFacts.name($1) }
        for (index, pod) in pods.enumerated() {
            #expect(PodFacts.name(pod).hasPrefix("idx-\(index)-"))
            #expect(PodFacts.label(pod, JobController.completionIndex) == String(index))
            #expect(JobController.annotatedIndex(pod) == index)
            #expect(pod.string("spec", "hostname") == "idx-\(index)")
            guard case .array(let env)? = pod.value(at: ["spec", "containers"]).flatMap({ if case .array(let c) = $0 { c.first } else { nil } })?["env"] else {
                Issue.record("no env")
                continue
            }
            #expect(env.first?.string("name") == "JOB_COMPLETION_INDEX")
            #expect(env.first?.string("valueFrom", "fieldRef", "fieldPath") == "metadata.annotations['batch.kubernetes.io/job-completion-index']")
        }
        try kubelet.set(PodFacts.name(pods[0]), phase: "Succeeded")
        try kubelet.set(PodFacts.name(pods[2]), phase: "Succeeded")
        let job = { try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "idx") }
        #expect(await harness.eventually { try job().string("status", "completedIndexes") == "0,2" })
        try kubelet.set(PodFacts.name(pods[1]), phase: "Succeeded")
        #expect(await harness.eventually { try job().condition("Complete")?.string("status") == "True" })
        #expect(try job().string("status", "completedIndexes") == "0-2")
    }

    @Test func aSuspendedJobKeepsNoPodsUntilResumed() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.jobs, namespace: "default", object: Self.job("later", spec: #""suspend":true"#))
        let job = { try store.get(KubeResourceRegistry.jobs, namespace: "default", name: "later") }
        #expect(await harness.eventually { try job().condition("Suspended")?.string("status") == "True" })
        #expect(try kubelet.pods().isEmpty)
        #expect(try job().string("status", "startTime") == nil)
        _ = try store.replace(KubeResourceRegistry.jobs, namespace: "default", name: "later", object: job().setting(["spec", "suspend"], to: .bool(false)))
        #expect(await harness.eventually { try Self.active(kubelet).count == 1 })
        #expect(await harness.eventually { try job().condition("Suspended")?.string("reason") == "JobResumed" })
    }

    @Test func completedIndexesReadAndRenderAsRanges() {
        #expect(JobController.indexes("1,3-5,9") == [1, 3, 4, 5, 9])
        #expect(JobController.render([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7")
        #expect(JobController.render([]) == nil)
    }
}
