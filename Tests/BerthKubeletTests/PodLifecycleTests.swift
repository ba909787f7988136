import BerthKubeAPI
@testable import BerthKubelet
import Foundation
import Testing

/// The node's pure rules: the restart back-off's windows, what a pod requests of the node when it
/// is scheduled, and how a pod's containers make its phase.
@Suite struct PodLifecycleTests {
    @Test func backOffDoublesFromTenSecondsToFiveMinutes() {
        let backOff = KubeletBackOff()
        let key = KubeletBackOff.key(podUID: "u", container: "c")
        var now = ContinuousClock.now
        // The first restart is immediate.
        #expect(backOff.window(for: key, exitedAgo: .zero, now: now) == nil)
        var windows: [Duration] = []
        for _ in 0..<7 {
            backOff.failed(key, now: now)
            now += .seconds(1)
            if let window = backOff.window(for: key, exitedAgo: .zero, now: now) { windows.append(window) }
        }
        #expect(windows == [10, 20, 40, 80, 160, 300, 300].map { Duration.seconds($0) })
        // A container that exited longer ago than its window may restart.
        #expect(backOff.window(for: key, exitedAgo: .seconds(301), now: now) == nil)
    }

    @Test func backOffIsForgottenAfterTenQuietMinutes() {
        let backOff = KubeletBackOff()
        let key = KubeletBackOff.key(podUID: "u", container: "c")
        let start = ContinuousClock.now
        for step in 0..<4 { backOff.failed(key, now: start + .seconds(step)) }
        #expect(backOff.window(for: key, exitedAgo: .zero, now: start + .seconds(10)) == .seconds(80))
        #expect(backOff.window(for: key, exitedAgo: .zero, now: start + .seconds(3 + 601)) == nil)
        backOff.failed(key, now: start + .seconds(3 + 602))
        #expect(backOff.window(for: key, exitedAgo: .zero, now: start + .seconds(3 + 603)) == .seconds(10))
    }

    @Test func backOffIsPerContainerAndForgottenWithThePod() {
        let backOff = KubeletBackOff()
        backOff.failed(KubeletBackOff.key(podUID: "u", container: "a"))
        #expect(backOff.window(for: KubeletBackOff.key(podUID: "u", container: "b"), exitedAgo: .zero) == nil)
        #expect(backOff.window(for: KubeletBackOff.key(podUID: "u", container: "a"), exitedAgo: .zero) == .seconds(10))
        backOff.forget(podUID: "u")
        #expect(backOff.window(for: KubeletBackOff.key(podUID: "u", container: "a"), exitedAgo: .zero) == nil)
    }

    @Test func requestsSumAppContainersOrTakeTheLargestInitContainer() throws {
        let pod = try decoded("""
        {"metadata":{"name":"p"},"spec":{
          "initContainers":[{"name":"i","resources":{"requests":{"cpu":"2","memory":"1Gi"}}}],
          "containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}},
                        {"name":"b","resources":{"limits":{"cpu":"250m","memory":"64Mi"}}}]}}
        """, as: Pod.self)
        let (cpu, memory) = PodScheduler.requests(pod)
        #expect(cpu == 2000)
        #expect(memory == 1 << 30)
        let small = try decoded("""
        {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}},
          {"name":"b","resources":{"limits":{"cpu":"250m","memory":"64Mi"}}}]}}
        """, as: Pod.self)
        #expect(PodScheduler.requests(small) == (750, 192 << 20))
    }

    @Test(arguments: [
        ("Always", 0, true), ("Always", 1, true), ("OnFailure", 0, false), ("OnFailure", 137, true), ("Never", 1, false),
    ])
    func restartPolicy(policy: String, exitCode: Int32, restarts: Bool) {
        #expect(PodWorker.restarts(policy, exitCode: exitCode) == restarts)
    }
}
