import BerthKubeAPI
@testable import BerthKubelet
import Testing

@Suite struct ResourceTests {
    @Test func divisorsRoundUp() throws {
        #expect(try KubeQuantity("1500m").dividedRoundingUp(by: KubeQuantity("1")) == 2)
        #expect(try KubeQuantity("128Mi").dividedRoundingUp(by: KubeQuantity("1M")) == 135)
        #expect(try KubeQuantity("250m").dividedRoundingUp(by: KubeQuantity("1m")) == 250)
    }

    @Test func limitsAndRequestsAsTheKubeletSetsCgroups() throws {
        let limited = ContainerResources(try decoded(#"{"limits":{"cpu":"250m","memory":"64Mi"},"requests":{"cpu":"100m"}}"#))
        #expect(limited.memory == 64 * 1024 * 1024)
        #expect(limited.cpuQuota == 25_000)
        #expect(limited.cpuShares == 102)
        // Requests default to limits.
        #expect(ContainerResources(try decoded(#"{"limits":{"cpu":"2"}}"#)).cpuShares == 2048)
        let none = ContainerResources(nil)
        #expect(none.memory == 0 && none.cpuQuota == 0 && none.cpuShares == 2)
        #expect(ContainerResources(try decoded(#"{"limits":{"cpu":"1m"}}"#)).cpuQuota == 1000)
    }

    func qos(_ containers: String, initContainers: String = "[]") throws -> PodQOSClass {
        PodQOSClass(try decoded(#"{"containers":\#(containers),"initContainers":\#(initContainers)}"#, as: PodSpec.self))
    }

    @Test func qosClasses() throws {
        #expect(try qos(#"[{"name":"a"},{"name":"b","resources":{}}]"#) == .bestEffort)
        #expect(try qos(#"[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]"#) == .guaranteed)
        #expect(try qos(#"[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}}}]"#) == .guaranteed)
        #expect(try qos(#"[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}]"#) == .burstable)
        #expect(try qos(#"[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b"}]"#) == .burstable)
        #expect(try qos(#"[{"name":"a","resources":{"requests":{"memory":"1Gi"}}}]"#) == .burstable)
        #expect(try qos(#"[{"name":"a"}]"#, initContainers: #"[{"name":"i","resources":{"requests":{"cpu":"1"}}}]"#) == .burstable)
        // Other resources do not count.
        #expect(try qos(#"[{"name":"a","resources":{"limits":{"ephemeral-storage":"1Gi"}}}]"#) == .bestEffort)
    }
}

@Suite struct ContainerSecurityTests {
    func security(pod podContext: String = "{}", container context: String = "{}", imageUser: String = "") throws -> ContainerSecurity {
        let pod = try decoded(#"{"metadata":{"name":"web","namespace":"default","uid":"u-1"},"spec":{"securityContext":\#(podContext),"containers":[]}}"#,
                              as: Pod.self)
        return try ContainerSecurity(pod: pod, container: try decoded(#"{"name":"c","securityContext":\#(context)}"#), imageUser: imageUser)
    }

    @Test func containerOverPod() throws {
        let resolved = try security(pod: #"{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"supplementalGroups":[4000]}"#,
                                    container: #"{"runAsUser":1001,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]}}"#)
        #expect(resolved.user == "1001:3000")
        #expect(resolved.groupAdd == ["2000", "4000"])
        #expect(resolved.readonlyRootfs)
        #expect(resolved.capAdd == ["NET_ADMIN"] && resolved.capDrop == ["ALL"])
        #expect(resolved.securityOpt == ["no-new-privileges", "seccomp=unconfined"])
        #expect(try security().user == nil)
        #expect(try security(container: #"{"runAsGroup":5}"#, imageUser: "nginx").user == "nginx:5")
        #expect(try security(container: #"{"privileged":true,"allowPrivilegeEscalation":false}"#).securityOpt == ["seccomp=unconfined"])
        #expect(try security(pod: #"{"seccompProfile":{"type":"RuntimeDefault"}}"#).securityOpt == [])
        #expect(try security(pod: #"{"seccompProfile":{"type":"RuntimeDefault"}}"#, container: #"{"seccompProfile":{"type":"Unconfined"}}"#)
                .securityOpt == ["seccomp=unconfined"])
    }

    @Test func runAsNonRoot() throws {
        let suffix = #"(pod: "web_default(u-1)", container: c)"#
        #expect(throws: PodSpecError(.createContainerConfigError, "container has runAsNonRoot and image will run as root \(suffix)")) {
            try security(pod: #"{"runAsNonRoot":true}"#)
        }
        #expect(throws: PodSpecError(.createContainerConfigError, "container has runAsNonRoot and image will run as root \(suffix)")) {
            try security(container: #"{"runAsNonRoot":true}"#, imageUser: "0:0")
        }
        #expect(throws: PodSpecError(.createContainerConfigError, "container's runAsUser breaks non-root policy \(suffix)")) {
            try security(container: #"{"runAsNonRoot":true,"runAsUser":0}"#)
        }
        #expect(throws: PodSpecError(.createContainerConfigError,
                                     "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root \(suffix)")) {
            try security(pod: #"{"runAsNonRoot":true}"#, imageUser: "nginx")
        }
        #expect(try security(pod: #"{"runAsNonRoot":true}"#, imageUser: "1000").user == nil)
        #expect(try security(pod: #"{"runAsNonRoot":true,"runAsUser":7}"#).user == "7")
        // The container's own setting wins over the pod's.
        #expect(try security(pod: #"{"runAsNonRoot":true}"#, container: #"{"runAsNonRoot":false}"#).user == nil)
    }
}
