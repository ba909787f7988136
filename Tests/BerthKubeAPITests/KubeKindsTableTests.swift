import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

@Suite struct KubeKindsTableTests {
    let now = try! Date("2026-01-01T01:00:00Z", strategy: .iso8601)

    func cells(_ resource: KubeResource, _ text: String) throws -> String {
        KubeTable.cells(resource, try json(text), now: now).map { cell in
            if case .string(let text) = cell { return "\"\(text)\"" }
            return cell.compact
        }.joined(separator: " ")
    }

    func expectCells(_ resource: KubeResource, _ text: String, _ expected: String, prefix: Bool = false,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try cells(resource, text)
        #expect(prefix ? got.hasPrefix(expected) : got == expected, "\(got)", sourceLocation: sourceLocation)
    }

    @Test func podStatusAsKubectlPrintsIt() throws {
        let base = #""metadata":{"name":"p","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"containers":[{"name":"a"},{"name":"b"}]"#
        try expectCells(KubeResourceRegistry.pods, "{\(base)},\"status\":{\"phase\":\"Pending\"}}",
                        #""p" "0/2" "Pending" "0" "60m" "<none>" "<none>" "<none>" "<none>""#)
        try expectCells(KubeResourceRegistry.pods, #"{\#(base)},"status":{"phase":"Pending","containerStatuses":[{"name":"a","restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}},{"name":"b","restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}}"#,
                        #""p" "0/2" "ContainerCreating" "0""#, prefix: true)
        try expectCells(KubeResourceRegistry.pods, #"{\#(base),"nodeName":"n1"},"status":{"phase":"Running","podIPs":[{"ip":"10.0.0.5"}],"containerStatuses":[{"name":"a","ready":true,"restartCount":2,"lastState":{"terminated":{"exitCode":1,"finishedAt":"2026-01-01T00:59:55Z"}},"state":{"running":{}}},{"name":"b","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}"#,
                        #""p" "1/2" "CrashLoopBackOff" "5 (5s ago)" "60m" "10.0.0.5" "n1" "<none>" "<none>""#)
        try expectCells(KubeResourceRegistry.pods, #"{"metadata":{"name":"p","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"}]},"status":{"phase":"Pending","initContainerStatuses":[{"name":"i","restartCount":0,"state":{"running":{}}}]}}"#,
                        #""p" "0/1" "Init:0/1""#, prefix: true)
        try expectCells(KubeResourceRegistry.pods, #"{"metadata":{"name":"p","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Succeeded","containerStatuses":[{"name":"a","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#,
                        #""p" "0/1" "Completed" "0""#, prefix: true)
        try expectCells(KubeResourceRegistry.pods, #"{"metadata":{"name":"p","creationTimestamp":"2026-01-01T00:00:00Z","deletionTimestamp":"2026-01-01T00:59:00Z"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{}}}]}}"#,
                        #""p" "1/1" "Terminating" "0""#, prefix: true)
    }

    @Test func workloadColumnsAndCells() throws {
        let names = { (resource: KubeResource) in KubeTable.columns(resource).map { $0.priority == 0 ? $0.name : "*" + $0.name } }
        #expect(names(KubeResourceRegistry.pods) == ["Name", "Ready", "Status", "Restarts", "Age", "*IP", "*Node", "*Nominated Node", "*Readiness Gates"])
        #expect(names(KubeResourceRegistry.deployments) == ["Name", "Ready", "Up-to-date", "Available", "Age", "*Containers", "*Images", "*Selector"])
        #expect(names(KubeResourceRegistry.cronJobs) == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "*Containers", "*Images", "*Selector"])
        #expect(names(KubeResourceRegistry.nodes) == ["Name", "Status", "Roles", "Age", "Version", "*Internal-IP", "*External-IP", "*OS-Image", "*Kernel-Version", "*Container-Runtime"])
        let template = #""template":{"spec":{"containers":[{"name":"web","image":"nginx:1"},{"name":"side","image":"busybox"}]}}"#
        try expectCells(KubeResourceRegistry.deployments, #"{"metadata":{"name":"web","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]}]},\#(template)},"status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}}"#,
                        #""web" "2/3" 3 2 "60m" "web,side" "nginx:1,busybox" "app=web,tier in (a,b)""#)
        try expectCells(KubeResourceRegistry.jobs, #"{"metadata":{"name":"j","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"completions":3,\#(template)},"status":{"succeeded":3,"startTime":"2026-01-01T00:00:00Z","completionTime":"2026-01-01T00:00:42Z","conditions":[{"type":"Complete","status":"True"}]}}"#,
                        #""j" "Complete" "3/3" "42s" "60m" "web,side" "nginx:1,busybox" "<none>""#)
        try expectCells(KubeResourceRegistry.cronJobs, #"{"metadata":{"name":"c","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"schedule":"*/1 * * * *","suspend":false,"jobTemplate":{"spec":{\#(template)}}}}"#,
                        #""c" "*/1 * * * *" "<none>" "False" 0 "<none>" "60m" "web,side" "nginx:1,busybox" "<none>""#)
        try expectCells(KubeResourceRegistry.persistentVolumeClaims, #"{"metadata":{"name":"data","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"volumeName":"pv1","storageClassName":"local","volumeMode":"Filesystem"},"status":{"phase":"Bound","accessModes":["ReadWriteMany","ReadWriteOnce"],"capacity":{"storage":"1Gi"}}}"#,
                        #""data" "Bound" "pv1" "1Gi" "RWO,RWX" "local" "<unset>" "60m" "Filesystem""#)
        try expectCells(KubeResourceRegistry.nodes, #"{"metadata":{"name":"n","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"node-role.kubernetes.io/control-plane":""}},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"10.1.2.3"}],"nodeInfo":{"kubeletVersion":"v1.32.0","osImage":"Debian"}}}"#,
                        #""n" "Ready,SchedulingDisabled" "control-plane" "60m" "v1.32.0" "10.1.2.3" "<none>" "Debian" "<unknown>" "<unknown>""#)
        try expectCells(KubeResourceRegistry.controllerRevisions, #"{"metadata":{"name":"web-6d4","creationTimestamp":"2026-01-01T00:00:00Z","ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"u","controller":true}]},"revision":2}"#,
                        #""web-6d4" "statefulset.apps/web" 2 "60m""#)
    }
}
