import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

@Suite struct KubeKindsAdmissionTests {
    let deploymentJSON = #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"readinessProbe":{"httpGet":{"port":80}},"resources":{"limits":{"memory":"1.5Gi","cpu":"0.5"}}}]}}}}"#

    @Test func podGetsTheAPIServerDefaults() throws {
        let scratch = try ScratchStore()
        let pod = try scratch.store.create(KubeResourceRegistry.pods, namespace: "default", object: try json(#"""
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"busybox","livenessProbe":{"httpGet":{"port":8080}},"ports":[{"containerPort":80}]},{"name":"b","image":"busybox:1.36","resources":{"limits":{"cpu":"500m","memory":"128Mi"}}}]},"status":{"phase":"Running"}}
            """#))
        let spec = try #require(pod["spec"])
        #expect(spec.string("restartPolicy") == "Always" && spec.string("dnsPolicy") == "ClusterFirst" && spec["terminationGracePeriodSeconds"]?.int == 30)
        #expect(spec.string("schedulerName") == "default-scheduler" && spec["securityContext"] == .object([]) && spec["enableServiceLinks"] == .bool(true))
        #expect(spec.string("serviceAccountName") == "default" && spec.string("serviceAccount") == "default" && spec["priority"]?.int == 0)
        #expect(spec.string("preemptionPolicy") == "PreemptLowerPriority")
        #expect(spec["tolerations"]?.compact == #"[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]"#)
        let first = try #require(spec.items("containers").first)
        #expect(first.string("imagePullPolicy") == "Always" && first.string("terminationMessagePath") == "/dev/termination-log")
        #expect(first.string("terminationMessagePolicy") == "File" && first["resources"] == .object([]))
        #expect(first.value(at: ["ports"])?.compact == #"[{"containerPort":80,"protocol":"TCP"}]"#)
        #expect(first.value(at: ["livenessProbe"])?.compact == #"{"httpGet":{"port":8080,"path":"/","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}"#)
        let second = spec.items("containers")[1]
        #expect(second.string("imagePullPolicy") == "IfNotPresent")
        #expect(second.value(at: ["resources"])?.compact == #"{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"500m","memory":"128Mi"}}"#)
        #expect(pod["status"]?.compact == #"{"phase":"Pending","qosClass":"Burstable"}"#)
    }

    @Test func podRequiresContainersWithNamesAndImages() throws {
        let scratch = try ScratchStore()
        #expect(causes { _ = try scratch.store.create(KubeResourceRegistry.pods, namespace: "default", object: try json(#"{"metadata":{"name":"p"},"spec":{"containers":[]}}"#)) }
                == ["spec.containers: Required value"])
        #expect(causes {
            _ = try scratch.store.create(KubeResourceRegistry.pods, namespace: "default", object: try json(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"A","image":"x"},{"name":"b"},{"name":"b","image":"y"}]}}"#))
        } == ["spec.containers[0].name: Invalid value: \"A\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
              "spec.containers[1].image: Required value", "spec.containers[2].name: Duplicate value: \"b\""])
    }

    @Test func podUpdatesMayChangeOnlyImagesAndTheOtherMutableFields() throws {
        let scratch = try ScratchStore()
        let pods = KubeResourceRegistry.pods
        let pod = try scratch.store.create(pods, namespace: "default", object: try json(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"busybox:1"}]}}"#))
        let newImage = pod.setting(["spec", "containers"], to: .array([pod.items("spec", "containers")[0].setting(["image"], to: .string("busybox:2"))]))
        let updated = try scratch.store.replace(pods, namespace: "default", name: "p", object: newImage, scope: .main)
        #expect(updated.items("spec", "containers")[0].string("image") == "busybox:2")
        let otherChange = updated.setting(["spec", "restartPolicy"], to: .string("Never"))
        let found = causes { _ = try scratch.store.replace(pods, namespace: "default", name: "p", object: otherChange, scope: .main) }
        #expect(found.count == 1 && found.first?.hasPrefix("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,") == true)
    }

    @Test func deploymentDefaultsAndSelectorRules() throws {
        let scratch = try ScratchStore()
        let deployments = KubeResourceRegistry.deployments
        let created = try scratch.store.create(deployments, namespace: "default", object: try json(deploymentJSON))
        #expect(created.value(at: ["spec", "replicas"])?.int == 1 && created.value(at: ["spec", "revisionHistoryLimit"])?.int == 10)
        #expect(created.value(at: ["spec", "progressDeadlineSeconds"])?.int == 600)
        #expect(created.value(at: ["spec", "strategy"])?.compact == #"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}"#)
        let container = created.items("spec", "template", "spec", "containers")[0]
        #expect(container.value(at: ["resources"])?.compact == #"{"limits":{"memory":"1536Mi","cpu":"500m"}}"#)
        #expect(created.value(at: ["spec", "template", "spec", "serviceAccountName"]) == nil)
        #expect(created["status"] == .object([]) && created.value(at: ["metadata", "generation"])?.int == 1)

        let mismatched = try json(deploymentJSON).setting(["metadata", "name"], to: .string("other"))
            .setting(["spec", "selector"], to: try json(#"{"matchLabels":{"app":"nope"}}"#))
        #expect(causes { _ = try scratch.store.create(deployments, namespace: "default", object: mismatched) }
                == [#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#])
        let missing = try json(deploymentJSON).setting(["metadata", "name"], to: .string("other")).setting(["spec", "selector"], to: nil)
        #expect(causes { _ = try scratch.store.create(deployments, namespace: "default", object: missing) }
                == ["spec.selector: Required value", #"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#])

        let changed = created.setting(["spec", "selector"], to: try json(#"{"matchLabels":{"app":"web","x":"y"}}"#))
            .setting(["spec", "template", "metadata", "labels"], to: try json(#"{"app":"web","x":"y"}"#))
        #expect(causes { _ = try scratch.store.replace(deployments, namespace: "default", name: "web", object: changed, scope: .main) }
                == [#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "x":"y"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#])
    }

    @Test func statusSubresourceSeparatesSpecAndStatusWrites() throws {
        let scratch = try ScratchStore()
        let deployments = KubeResourceRegistry.deployments
        let created = try scratch.store.create(deployments, namespace: "default", object: try json(deploymentJSON))
        let withStatus = try scratch.store.replace(deployments, namespace: "default", name: "web",
                                                   object: created.setting(["status"], to: try json(#"{"replicas":1}"#)).setting(["spec", "replicas"], to: .int(4)),
                                                   scope: .status)
        #expect(withStatus["status"]?.compact == #"{"replicas":1}"# && withStatus.value(at: ["spec", "replicas"])?.int == 1)
        #expect(withStatus.value(at: ["metadata", "generation"])?.int == 1)
        let scaled = try scratch.store.replace(deployments, namespace: "default", name: "web",
                                               object: withStatus.setting(["status"], to: .object([])).setting(["spec", "replicas"], to: .int(3)), scope: .main)
        #expect(scaled["status"]?.compact == #"{"replicas":1}"# && scaled.value(at: ["spec", "replicas"])?.int == 3)
        #expect(scaled.value(at: ["metadata", "generation"])?.int == 2)
        let scale = try KubeScale.scale(of: scaled)
        #expect(scale.compact.contains(#""spec":{"replicas":3},"status":{"replicas":1,"selector":"app=web"}"#))
        #expect(throws: KubeAPIError.self) { try KubeScale.applying(try json(#"{"spec":{"replicas":-1}}"#), to: scaled, name: "web") }
    }

    @Test func workloadDefaults() throws {
        let scratch = try ScratchStore()
        let template = #"{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#
        let sts = try scratch.store.create(KubeResourceRegistry.statefulSets, namespace: "default", object: try json(#"{"metadata":{"name":"s"},"spec":{"serviceName":"s","selector":{"matchLabels":{"app":"a"}},"template":\#(template),"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}"#))
        #expect(sts.string("spec", "podManagementPolicy") == "OrderedReady" && sts.value(at: ["spec", "updateStrategy"])?.compact == #"{"type":"RollingUpdate","rollingUpdate":{"partition":0}}"#)
        #expect(sts.value(at: ["spec", "persistentVolumeClaimRetentionPolicy"])?.compact == #"{"whenDeleted":"Retain","whenScaled":"Retain"}"#)
        #expect(sts.items("spec", "volumeClaimTemplates").first?.compact == #"{"metadata":{"name":"data","creationTimestamp":null},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"volumeMode":"Filesystem"},"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":"Pending"}}"#)
        let ds = try scratch.store.create(KubeResourceRegistry.daemonSets, namespace: "default", object: try json(#"{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":\#(template)}}"#))
        #expect(ds.value(at: ["spec", "updateStrategy"])?.compact == #"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}"#)
        let job = try scratch.store.create(KubeResourceRegistry.jobs, namespace: "default", object: try json(#"{"metadata":{"name":"j"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}"#))
        let uid = try #require(job.string("metadata", "uid"))
        #expect(job.value(at: ["spec", "selector"])?.compact == #"{"matchLabels":{"batch.kubernetes.io/controller-uid":"\#(uid)"}}"#)
        #expect(job.stringMap(at: ["spec", "template", "metadata", "labels"]) == ["batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "j", "controller-uid": uid, "job-name": "j"])
        #expect(job.value(at: ["spec", "completions"])?.int == 1 && job.value(at: ["spec", "parallelism"])?.int == 1 && job.value(at: ["spec", "backoffLimit"])?.int == 6)
        #expect(job.string("spec", "completionMode") == "NonIndexed" && job.value(at: ["spec", "suspend"]) == .bool(false) && job.string("spec", "podReplacementPolicy") == "TerminatingOrFailed")
        #expect(causes {
            _ = try scratch.store.create(KubeResourceRegistry.jobs, namespace: "default", object: try json(#"{"metadata":{"name":"k"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#))
        } == [#"spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#])
        let cron = try scratch.store.create(KubeResourceRegistry.cronJobs, namespace: "default", object: try json(#"{"metadata":{"name":"c"},"spec":{"schedule":"@hourly","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}}}"#))
        #expect(cron.string("spec", "concurrencyPolicy") == "Allow" && cron.value(at: ["spec", "successfulJobsHistoryLimit"])?.int == 3 && cron.value(at: ["spec", "failedJobsHistoryLimit"])?.int == 1)
        for (schedule, message) in [("* * *", "expected exactly 5 fields, found 3: [* * *]"), ("61 * * * *", "end of range (61) above maximum (59): 61"), ("@bogus", "unrecognized descriptor: @bogus")] {
            #expect(causes {
                _ = try scratch.store.create(KubeResourceRegistry.cronJobs, namespace: "default", object: cron.setting(["metadata"], to: try json(#"{"name":"bad"}"#)).setting(["spec", "schedule"], to: .string(schedule)))
            } == ["spec.schedule: Invalid value: \"\(schedule)\": \(message)"])
        }
        #expect(CronSchedule.problem("*/5 0-6 1,15 jan-mar mon-fri") == nil && CronSchedule.problem("@every 1h30m") == nil)
    }

    @Test func claimsNeedAccessModesAndStorage() throws {
        let scratch = try ScratchStore()
        let claim = try scratch.store.create(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", object: try json(#"{"metadata":{"name":"c"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1.5Gi"}}}}"#))
        #expect(claim.string("spec", "volumeMode") == "Filesystem" && claim.string("spec", "resources", "requests", "storage") == "1536Mi" && claim.string("status", "phase") == "Pending")
        #expect(causes {
            _ = try scratch.store.create(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", object: try json(#"{"metadata":{"name":"d"},"spec":{}}"#))
        } == ["spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"])
    }

    @Test func badQuantitiesFailAsTheDecoderFails() throws {
        let scratch = try ScratchStore()
        #expect(throws: KubeAPIError.badRequest(#"Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#)) {
            try scratch.store.create(KubeResourceRegistry.pods, namespace: "default", object: try json(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"memory":"lots"}}}]}}"#))
        }
        #expect(throws: KubeAPIError.badRequest(#"Pod in version "v1" cannot be handled as a Pod: unable to parse quantity's suffix"#)) {
            try scratch.store.create(KubeResourceRegistry.pods, namespace: "default", object: try json(#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"memory":"1Mk"}}}]}}"#))
        }
    }

    @Test func fieldSelectorsOfTheWorkloadKinds() throws {
        let pods = KubeResourceRegistry.pods
        #expect(KubeKinds.selectableFields(pods).isSuperset(of: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                                                                  "status.phase", "status.podIP", "status.nominatedNodeName", "spec.hostNetwork"]))
        let pod = try json(#"{"metadata":{"name":"p","namespace":"default"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}}"#)
        let fields = KubeKinds.fields(of: pod, pods)
        #expect(fields["spec.nodeName"] == "n1" && fields["status.phase"] == "Running" && fields["spec.hostNetwork"] == "false")
        #expect(KubeKinds.fields(of: try json(#"{"status":{"succeeded":2}}"#), KubeResourceRegistry.jobs)["status.successful"] == "2")
        #expect(KubeKinds.fields(of: try json(#"{"spec":{"unschedulable":true}}"#), KubeResourceRegistry.nodes)["spec.unschedulable"] == "true")
    }
}
