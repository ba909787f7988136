import Foundation
import Testing

/// The workload, storage and node kinds of `berth serve`'s Kubernetes API, driven by the real
/// kubectl 1.32: discovery rows, the apiserver's defaults (`get -o yaml`), its 422 causes, the
/// columns `kubectl get` prints, field selectors, and the status and scale subresources. The
/// controllers and the node run meanwhile; the assertions stay off what they change (status,
/// the node a pod is bound to). Expected texts are what kubectl prints against a real 1.32 cluster.
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeKindsTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: nginx
        """

    @Test func apiResourcesListTheWorkloadKinds() throws {
        let cluster = try KubeCluster()
        let resources = try cluster.ok("api-resources")
        #expect(resources.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") } == [
            "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
            "configmaps cm v1 true ConfigMap",
            "endpoints ep v1 true Endpoints",
            "events ev v1 true Event",
            "namespaces ns v1 false Namespace",
            "nodes no v1 false Node",
            "persistentvolumeclaims pvc v1 true PersistentVolumeClaim",
            "persistentvolumes pv v1 false PersistentVolume",
            "pods po v1 true Pod",
            "secrets v1 true Secret",
            "serviceaccounts sa v1 true ServiceAccount",
            "services svc v1 true Service",
            "controllerrevisions apps/v1 true ControllerRevision",
            "daemonsets ds apps/v1 true DaemonSet",
            "deployments deploy apps/v1 true Deployment",
            "replicasets rs apps/v1 true ReplicaSet",
            "statefulsets sts apps/v1 true StatefulSet",
            "cronjobs cj batch/v1 true CronJob",
            "jobs batch/v1 true Job",
            "endpointslices discovery.k8s.io/v1 true EndpointSlice",
            // The Metrics API, as a cluster with metrics-server lists it.
            "nodes metrics.k8s.io/v1beta1 false NodeMetrics",
            "pods metrics.k8s.io/v1beta1 true PodMetrics",
            "ingressclasses networking.k8s.io/v1 false IngressClass",
            "ingresses ing networking.k8s.io/v1 true Ingress",
        ])
        let all = try cluster.ok("api-resources", "--categories=all", "-o", "name")
        #expect(all == "pods\nservices\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\ncronjobs.batch\njobs.batch\n")
        try apply(cluster, Self.deployment)
        #expect(try cluster.ok("get", "all", "-o", "name").contains("deployment.apps/web\n"))
    }

    @Test func deploymentDefaultsColumnsAndScale() throws {
        let cluster = try KubeCluster()
        #expect(try apply(cluster, Self.deployment) == "deployment.apps/web created\n")
        #expect(try specPart(cluster.ok("get", "deploy", "web", "-o", "yaml")) == """
              progressDeadlineSeconds: 600
              replicas: 1
              revisionHistoryLimit: 10
              selector:
                matchLabels:
                  app: web
              strategy:
                rollingUpdate:
                  maxSurge: 25%
                  maxUnavailable: 25%
                type: RollingUpdate
              template:
                metadata:
                  creationTimestamp: null
                  labels:
                    app: web
                spec:
                  containers:
                  - image: nginx
                    imagePullPolicy: Always
                    name: web
                    resources: {}
                    terminationMessagePath: /dev/termination-log
                    terminationMessagePolicy: File
                  dnsPolicy: ClusterFirst
                  restartPolicy: Always
                  schedulerName: default-scheduler
                  securityContext: {}
                  terminationGracePeriodSeconds: 30

            """)
        let table = rows(try cluster.ok("get", "deployments", "-o", "wide"))
        #expect(table.headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"])
        #expect(table.cells.first.map { [$0[0]] + Array($0[5...]) } == ["web", "web", "nginx", "app=web"])
        #expect(table.cells.first?[1].hasSuffix("/1") == true)

        #expect(try cluster.ok("scale", "deploy", "web", "--replicas=5") == "deployment.apps/web scaled\n")
        #expect(try cluster.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas},{.metadata.generation}") == "5,2")
        #expect(try cluster.ok("get", "deploy", "web", "--subresource=scale", "-o", "jsonpath={.kind},{.spec.replicas},{.status.selector}") == "Scale,5,app=web")
        let negative = try cluster.kubectl("scale", "deploy", "web", "--replicas=-1")
        #expect(!negative.succeeded)
        #expect(negative.err == "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0\n")

        // /status changes the status alone; a write to the object keeps the stored status (on a
        // suspended CronJob, whose status no controller rewrites).
        #expect(try cluster.ok("create", "cronjob", "nightly", "--image=busybox", "--schedule=@daily") == "cronjob.batch/nightly created\n")
        #expect(try cluster.ok("patch", "cronjob", "nightly", "--type=merge", "-p", #"{"spec":{"suspend":true}}"#) == "cronjob.batch/nightly patched\n")
        #expect(try cluster.ok("patch", "cronjob", "nightly", "--subresource=status", "--type=merge", "-p",
                               #"{"spec":{"schedule":"@hourly"},"status":{"lastScheduleTime":"2026-01-01T00:00:00Z"}}"#) == "cronjob.batch/nightly patched\n")
        #expect(try cluster.ok("patch", "cronjob", "nightly", "--type=merge", "-p", #"{"status":{"lastScheduleTime":null}}"#)
                == "cronjob.batch/nightly patched (no change)\n")
        #expect(try cluster.ok("get", "cronjob", "nightly", "-o", "jsonpath={.spec.schedule},{.status.lastScheduleTime},{.metadata.generation}")
                == "@daily,2026-01-01T00:00:00Z,2")

        // The selector is immutable.
        let changed = try cluster.kubectl("patch", "deploy", "web", "--type=merge", "-p",
                                          #"{"spec":{"selector":{"matchLabels":{"app":"web","v":"2"}},"template":{"metadata":{"labels":{"app":"web","v":"2"}}}}}"#)
        #expect(changed.err == #"The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"# + "\n")
    }

    @Test func invalidManifestsGetTheAPIServersCauses() throws {
        let cluster = try KubeCluster()
        let mismatched = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(Self.deployment.replacingOccurrences(of: "      app: web\n  template", with: "      app: other\n  template").utf8)))
        #expect(!mismatched.succeeded)
        #expect(mismatched.err == #"The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"# + "\n")

        let job = """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: j
            spec:
              template:
                spec:
                  containers:
                  - name: c
                    image: busybox
            """
        let always = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(job.utf8)))
        #expect(always.err == #"The Job "j" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""# + "\n")

        let pod = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
              - name: Web
              - name: b
                image: busybox
              - name: b
                image: busybox
            """
        let badPod = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(pod.utf8)))
        #expect(badPod.err == """
            The Pod "p" is invalid: 
            * spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
            * spec.containers[0].image: Required value
            * spec.containers[2].name: Duplicate value: "b"

            """)

        let claim = """
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: data
            spec:
              storageClassName: local
            """
        let badClaim = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(claim.utf8)))
        #expect(badClaim.err == """
            The PersistentVolumeClaim "data" is invalid: 
            * spec.accessModes: Required value: at least 1 access mode is required
            * spec.resources[storage]: Required value

            """)

        let cron = try cluster.kubectl("create", "cronjob", "c", "--image=busybox", "--schedule=61 * * * *")
        #expect(cron.err == #"error: failed to create cronjob: CronJob.batch "c" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"# + "\n")
    }

    @Test func podDefaultsColumnsSelectorsAndUpdateRules() throws {
        let cluster = try KubeCluster()
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
              - name: web
                image: busybox:1.36
                ports:
                - containerPort: 80
                resources:
                  limits:
                    cpu: "0.5"
                    memory: 1.5Gi
                readinessProbe:
                  httpGet:
                    port: 80
            """
        #expect(try apply(cluster, pod) == "pod/p created\n")
        let yaml = try specPart(cluster.ok("get", "pod", "p", "-o", "yaml"))
        // The node binds the pod meanwhile.
        #expect(yaml.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("  nodeName: ") }.joined(separator: "\n") == """
              containers:
              - image: busybox:1.36
                imagePullPolicy: IfNotPresent
                name: web
                ports:
                - containerPort: 80
                  protocol: TCP
                readinessProbe:
                  failureThreshold: 3
                  httpGet:
                    path: /
                    port: 80
                    scheme: HTTP
                  periodSeconds: 10
                  successThreshold: 1
                  timeoutSeconds: 1
                resources:
                  limits:
                    cpu: 500m
                    memory: 1536Mi
                  requests:
                    cpu: 500m
                    memory: 1536Mi
                terminationMessagePath: /dev/termination-log
                terminationMessagePolicy: File
              dnsPolicy: ClusterFirst
              enableServiceLinks: true
              preemptionPolicy: PreemptLowerPriority
              priority: 0
              restartPolicy: Always
              schedulerName: default-scheduler
              securityContext: {}
              serviceAccount: default
              serviceAccountName: default
              terminationGracePeriodSeconds: 30
              tolerations:
              - effect: NoExecute
                key: node.kubernetes.io/not-ready
                operator: Exists
                tolerationSeconds: 300
              - effect: NoExecute
                key: node.kubernetes.io/unreachable
                operator: Exists
                tolerationSeconds: 300

            """)
        #expect(try cluster.ok("get", "pod", "p", "-o", "jsonpath={.status.qosClass}") == "Guaranteed")
        // kubectl run sends the pod in protobuf.
        #expect(try cluster.ok("run", "r", "--image=busybox", "--restart=Never", "--port=8080") == "pod/r created\n")
        #expect(try cluster.ok("get", "pod", "r", "-o", "jsonpath={.spec.restartPolicy},{.spec.containers[0].imagePullPolicy},{.spec.containers[0].ports[0].protocol},{.status.qosClass}")
                == "Never,Always,TCP,BestEffort")
        try cluster.ok("delete", "pod", "r", "--wait=false")
        let table = rows(try cluster.ok("get", "pods", "-o", "wide"))
        #expect(table.headers == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"])
        #expect(table.cells.first.map { [$0[0], $0[1], $0[7], $0[8]] } == ["p", "0/1", "<none>", "<none>"])

        #expect(try cluster.ok("get", "pods", "--field-selector", "status.phase=Pending,spec.restartPolicy=Always", "-o", "name") == "pod/p\n")
        #expect(try cluster.ok("get", "pods", "--field-selector", "spec.nodeName=elsewhere", "-o", "name") == "")
        let unsupported = try cluster.kubectl("get", "pods", "--field-selector", "spec.hostname=x")
        #expect(unsupported.err == #"Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.hostname=x": field label not supported: spec.hostname"# + "\n")

        #expect(try cluster.ok("patch", "pod", "p", "--type=json", "-p", #"[{"op":"replace","path":"/spec/containers/0/image","value":"busybox:1.37"}]"#)
                == "pod/p patched\n")
        let forbidden = try cluster.kubectl("patch", "pod", "p", "-p", #"{"spec":{"restartPolicy":"Never"}}"#)
        #expect(forbidden.err.hasPrefix("The Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
    }

    @Test func jobCronJobAndStorageColumns() throws {
        let cluster = try KubeCluster()
        #expect(try cluster.ok("create", "job", "j", "--image=busybox") == "job.batch/j created\n")
        let uid = try cluster.ok("get", "job", "j", "-o", "jsonpath={.metadata.uid}")
        #expect(try cluster.ok("get", "job", "j", "-o", "jsonpath={.spec.selector.matchLabels},{.spec.template.metadata.labels.job-name},{.spec.backoffLimit},{.spec.completionMode},{.spec.podReplacementPolicy}")
                == #"{"batch.kubernetes.io/controller-uid":"\#(uid)"},j,6,NonIndexed,TerminatingOrFailed"#)
        let jobs = rows(try cluster.ok("get", "jobs", "-o", "wide"))
        #expect(jobs.headers == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"])
        #expect(jobs.cells.first.map { [$0[0], $0[2]] + Array($0[5...]) } == ["j", "0/1", "j", "busybox", "batch.kubernetes.io/controller-uid=\(uid)"])
        #expect(try cluster.ok("get", "jobs", "--field-selector", "status.successful=0", "-o", "name") == "job.batch/j\n")

        #expect(try cluster.ok("create", "cronjob", "c", "--image=busybox", "--schedule=@hourly") == "cronjob.batch/c created\n")
        let cronJobs = rows(try cluster.ok("get", "cronjobs"))
        #expect(cronJobs.headers == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"])
        #expect(cronJobs.cells.first.map { Array($0[0..<6]) } == ["c", "@hourly", "<none>", "False", "0", "<none>"])

        let claim = """
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: data
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 1.5Gi
            """
        #expect(try apply(cluster, claim) == "persistentvolumeclaim/data created\n")
        // The node's provisioner may bind the claim meanwhile.
        #expect(try cluster.ok("get", "pvc", "data", "-o", "jsonpath={.spec.resources.requests.storage},{.spec.volumeMode}") == "1536Mi,Filesystem")
        let claims = rows(try cluster.ok("get", "pvc", "-o", "wide"))
        #expect(claims.headers == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE"])
        #expect(claims.cells.first.map { [$0[0], $0[5], $0[6], $0[8]] } == ["data", "", "<unset>", "Filesystem"])
        #expect(["Pending", "Bound"].contains(claims.cells.first?[1] ?? ""))

        #expect(rows(try cluster.ok("get", "serviceaccounts")).headers == ["NAME", "SECRETS", "AGE"])

        // kubectl create deployment sends protobuf, with an IntOrString-free empty strategy.
        #expect(try cluster.ok("create", "deployment", "d", "--image=nginx:1.27", "--replicas=2", "--port=80") == "deployment.apps/d created\n")
        #expect(try cluster.ok("get", "deploy", "d", "-o", "jsonpath={.spec.replicas},{.spec.strategy.rollingUpdate.maxSurge},{.spec.selector.matchLabels.app},{.spec.template.spec.containers[0].imagePullPolicy},{.spec.template.spec.containers[0].ports[0].protocol}")
                == "2,25%,d,IfNotPresent,TCP")
    }

    @Test func setsVolumesAndNodesColumns() throws {
        let cluster = try KubeCluster()
        let manifests = """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: db
            spec:
              serviceName: db
              selector:
                matchLabels: {app: db}
              template:
                metadata:
                  labels: {app: db}
                spec:
                  containers:
                  - name: db
                    image: busybox
                    volumeMounts:
                    - name: data
                      mountPath: /data
              volumeClaimTemplates:
              - metadata:
                  name: data
                spec:
                  accessModes: [ReadWriteOnce]
                  resources:
                    requests:
                      storage: 1Gi
            ---
            apiVersion: apps/v1
            kind: DaemonSet
            metadata:
              name: agent
            spec:
              selector:
                matchLabels: {app: agent}
              template:
                metadata:
                  labels: {app: agent}
                spec:
                  nodeSelector: {kubernetes.io/os: linux}
                  containers:
                  - name: agent
                    image: busybox
            ---
            apiVersion: v1
            kind: PersistentVolume
            metadata:
              name: local
            spec:
              capacity: {storage: 2Gi}
              accessModes: [ReadWriteOnce, ReadOnlyMany]
              hostPath: {path: /tmp/berth-kube-kinds-pv}
            """
        #expect(try apply(cluster, manifests) == "statefulset.apps/db created\ndaemonset.apps/agent created\npersistentvolume/local created\n")
        #expect(try cluster.ok("get", "sts", "db", "-o", "jsonpath={.spec.podManagementPolicy},{.spec.updateStrategy.rollingUpdate.partition},{.spec.persistentVolumeClaimRetentionPolicy.whenDeleted},{.spec.volumeClaimTemplates[0].spec.volumeMode},{.spec.volumeClaimTemplates[0].kind}")
                == "OrderedReady,0,Retain,Filesystem,PersistentVolumeClaim")
        #expect(rows(try cluster.ok("get", "sts", "-o", "wide")).headers == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"])
        #expect(try cluster.ok("get", "ds", "agent", "-o", "jsonpath={.spec.updateStrategy.type},{.spec.updateStrategy.rollingUpdate.maxUnavailable},{.spec.updateStrategy.rollingUpdate.maxSurge},{.spec.revisionHistoryLimit}")
                == "RollingUpdate,1,0,10")
        let daemonSets = rows(try cluster.ok("get", "ds", "-o", "wide"))
        #expect(daemonSets.headers == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"])
        #expect(daemonSets.cells.first.map { [$0[0], $0[6], $0[8], $0[9], $0[10]] } == ["agent", "kubernetes.io/os=linux", "agent", "busybox", "app=agent"])
        let volumes = rows(try cluster.ok("get", "pv", "-o", "wide"))
        #expect(volumes.headers == ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE", "VOLUMEMODE"])
        #expect(volumes.cells.first.map { Array($0[0..<4]) + [$0[7], $0[10]] } == ["local", "2Gi", "RWO,ROX", "Retain", "<unset>", "Filesystem"])
        #expect(rows(try cluster.ok("get", "nodes", "-o", "wide")).headers
                == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"])
        // The StatefulSet's controller records its revisions (none may exist yet).
        let revisions = rows(try cluster.ok("get", "controllerrevisions")).headers
        #expect(revisions.isEmpty || revisions == ["NAME", "CONTROLLER", "REVISION", "AGE"])
        let badVolume = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data("apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: empty\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n".utf8)))
        #expect(badVolume.err == "The PersistentVolume \"empty\" is invalid: spec: Required value: must specify a volume type\n")
    }

    // MARK: Helpers

    @discardableResult
    func apply(_ cluster: KubeCluster, _ manifest: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(manifest.utf8)))
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        return result.out
    }

    /// The `spec:` of `get -o yaml` output (the part the controllers and the node leave alone).
    func specPart(_ yaml: String) throws -> String {
        let start = try #require(yaml.range(of: "\nspec:\n")).upperBound
        let end = yaml.range(of: "\nstatus:", range: start..<yaml.endIndex)?.lowerBound ?? yaml.endIndex
        return String(yaml[start..<end]) + "\n"
    }

    /// A table kubectl printed, cut at the header's column starts (cells may be empty).
    func rows(_ output: String) -> (headers: [String], cells: [[String]]) {
        let lines = output.split(separator: "\n").map(String.init)
        guard let header = lines.first else { return ([], []) }
        var starts: [Int] = []
        let characters = Array(header)
        for index in characters.indices where characters[index] != " " && (index == 0 || (index >= 2 && characters[index - 1] == " " && characters[index - 2] == " ")) {
            starts.append(index)
        }
        func cut(_ line: String) -> [String] {
            let characters = Array(line)
            return starts.enumerated().map { position, start in
                let end = position + 1 < starts.count ? starts[position + 1] : characters.count
                guard start < characters.count else { return "" }
                return String(characters[start..<min(end, characters.count)]).trimmingCharacters(in: .whitespaces)
            }
        }
        return (cut(header), lines.dropFirst().map(cut))
    }
}
