import BerthTemplate
import Foundation

/// The cells of the workload, storage and node kinds, computed as the apiserver's printers do.
extension KubeTable {
    static func workloadColumns(_ resource: KubeResource, name: Column, age: Column) -> [Column]? {
        let containers = Column(name: "Containers", description: "Names of each container in the template.", priority: 1)
        let images = Column(name: "Images", description: "Images referenced by each container in the template.", priority: 1)
        let selector = Column(name: "Selector", description: "A label query over the pods the object manages.", priority: 1)
        func integer(_ title: String, _ description: String) -> Column { Column(name: title, type: "integer", description: description) }
        switch resource.kind {
        case "Pod":
            return [name, Column(name: "Ready", description: "The aggregate readiness state of this pod for accepting traffic."),
                    Column(name: "Status", description: "The aggregate status of the containers in this pod."),
                    Column(name: "Restarts", description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                    age,
                    Column(name: "IP", description: "The IP address allocated to the pod.", priority: 1),
                    Column(name: "Node", description: "The node the pod is scheduled to.", priority: 1),
                    Column(name: "Nominated Node", description: "The node the scheduler nominated for the pod.", priority: 1),
                    Column(name: "Readiness Gates", description: "The readiness gates of the pod that are true.", priority: 1)]
        case "Deployment":
            return [name, Column(name: "Ready", description: "Number of the pods ready of those desired."),
                    integer("Up-to-date", "Total number of pods targeted by this deployment that have the desired template."),
                    integer("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                    age, containers, images, selector]
        case "ReplicaSet":
            return [name, integer("Desired", "Number of desired pods."), integer("Current", "The most recently observed number of replicas."),
                    integer("Ready", "The number of pods targeted by this ReplicaSet with a Ready Condition."), age, containers, images, selector]
        case "StatefulSet":
            return [name, Column(name: "Ready", description: "Number of the pods ready of those desired."), age, containers, images]
        case "DaemonSet":
            return [name, integer("Desired", "The total number of nodes that should be running the daemon pod."),
                    integer("Current", "The number of nodes running at least one daemon pod that are supposed to."),
                    integer("Ready", "The number of nodes that should be running the daemon pod and have one or more of it running and ready."),
                    integer("Up-to-date", "The total number of nodes running the updated daemon pod."),
                    integer("Available", "The number of nodes that should be running the daemon pod and have one or more of it running and available."),
                    Column(name: "Node Selector", description: "The node labels the pod must match to run on a node."),
                    age, containers, images, selector]
        case "Job":
            return [name, Column(name: "Status", description: "Status of the job."),
                    Column(name: "Completions", description: "The desired number of successfully finished pods the job should be run with."),
                    Column(name: "Duration", description: "Time required to complete the job."), age, containers, images, selector]
        case "CronJob":
            return [name, Column(name: "Schedule", description: "The schedule in Cron format."),
                    Column(name: "Timezone", description: "The time zone the schedule is read in."),
                    Column(name: "Suspend", type: "boolean", description: "Whether subsequent executions are suspended."),
                    integer("Active", "The number of currently running jobs."),
                    Column(name: "Last Schedule", description: "When the job was last successfully scheduled."), age, containers, images, selector]
        case "ServiceAccount":
            return [name, integer("Secrets", "The number of secrets the service account lists."), age]
        case "PersistentVolumeClaim":
            return [name, Column(name: "Status", description: "The phase of the claim."), Column(name: "Volume", description: "The volume bound to the claim."),
                    Column(name: "Capacity", description: "The capacity of the bound volume."),
                    Column(name: "Access Modes", description: "The access modes of the bound volume."),
                    Column(name: "StorageClass", description: "The storage class of the claim."),
                    Column(name: "VolumeAttributesClass", description: "The volume attributes class of the claim."), age,
                    Column(name: "VolumeMode", description: "Whether the volume is a filesystem or a block device.", priority: 1)]
        case "PersistentVolume":
            return [name, Column(name: "Capacity", description: "The capacity of the volume."),
                    Column(name: "Access Modes", description: "The ways the volume can be mounted."),
                    Column(name: "Reclaim Policy", description: "What happens to the volume when it is released."),
                    Column(name: "Status", description: "The phase of the volume."), Column(name: "Claim", description: "The claim bound to the volume."),
                    Column(name: "StorageClass", description: "The storage class of the volume."),
                    Column(name: "VolumeAttributesClass", description: "The volume attributes class of the volume."),
                    Column(name: "Reason", description: "Why the volume is in its phase."), age,
                    Column(name: "VolumeMode", description: "Whether the volume is a filesystem or a block device.", priority: 1)]
        case "Node":
            return [name, Column(name: "Status", description: "The status of the node."), Column(name: "Roles", description: "The roles of the node."), age,
                    Column(name: "Version", description: "Kubelet version reported by the node."),
                    Column(name: "Internal-IP", description: "The node's internal IP address.", priority: 1),
                    Column(name: "External-IP", description: "The node's external IP address.", priority: 1),
                    Column(name: "OS-Image", description: "The operating system image reported by the node.", priority: 1),
                    Column(name: "Kernel-Version", description: "Kernel version reported by the node.", priority: 1),
                    Column(name: "Container-Runtime", description: "Container runtime version reported by the node.", priority: 1)]
        case "Ingress", "IngressClass":
            return ingressColumns(resource, name: name, age: age)
        case "ControllerRevision":
            return [name, Column(name: "Controller", description: "The controller of the revision."),
                    integer("Revision", "The revision number."), age]
        default:
            return nil
        }
    }

    static func workloadCells(_ resource: KubeResource, _ object: OrderedJSON, now: Date) -> [OrderedJSON]? {
        let name = OrderedJSON.string(object.string("metadata", "name") ?? "")
        let age = OrderedJSON.string(self.age(since: object.string("metadata", "creationTimestamp"), now: now))
        func int(_ path: String...) -> OrderedJSON { .int(object.value(at: path)?.int ?? 0) }
        func template(_ path: [String]) -> [OrderedJSON] {
            let containers = object.items(at: path + ["containers"])
            return [.string(containers.map { $0.string("name") ?? "" }.joined(separator: ",")),
                    .string(containers.map { $0.string("image") ?? "" }.joined(separator: ","))]
        }
        let selector = OrderedJSON.string(formattedSelector(object.value(at: ["spec", "selector"])))
        let podTemplate = ["spec", "template", "spec"]
        switch resource.kind {
        case "Pod":
            return podCells(object, now: now)
        case "Deployment":
            return [name, .string("\(object.value(at: ["status", "readyReplicas"])?.int ?? 0)/\(object.value(at: ["spec", "replicas"])?.int ?? 0)"),
                    int("status", "updatedReplicas"), int("status", "availableReplicas"), age] + template(podTemplate) + [selector]
        case "ReplicaSet":
            return [name, int("spec", "replicas"), int("status", "replicas"), int("status", "readyReplicas"), age] + template(podTemplate) + [selector]
        case "StatefulSet":
            return [name, .string("\(object.value(at: ["status", "readyReplicas"])?.int ?? 0)/\(object.value(at: ["spec", "replicas"])?.int ?? 0)"), age]
                + template(podTemplate)
        case "DaemonSet":
            let nodeSelector = (object.stringMap(at: ["spec", "template", "spec", "nodeSelector"]) ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            return [name, int("status", "desiredNumberScheduled"), int("status", "currentNumberScheduled"), int("status", "numberReady"),
                    int("status", "updatedNumberScheduled"), int("status", "numberAvailable"), .string(nodeSelector.isEmpty ? "<none>" : nodeSelector),
                    age] + template(podTemplate) + [selector]
        case "Job":
            return [name, .string(jobStatus(object)), .string(jobCompletions(object)), .string(jobDuration(object, now: now)), age]
                + template(podTemplate) + [selector]
        case "CronJob":
            let last = object.string("status", "lastScheduleTime").map { self.age(since: $0, now: now) } ?? "<none>"
            return [name, .string(object.string("spec", "schedule") ?? ""), .string(object.string("spec", "timeZone") ?? "<none>"),
                    .string(suspendText(object.value(at: ["spec", "suspend"]))), .int(object.items("status", "active").count), .string(last), age]
                + template(["spec", "jobTemplate", "spec", "template", "spec"])
                + [.string(formattedSelector(object.value(at: ["spec", "jobTemplate", "spec", "selector"])))]
        case "ServiceAccount":
            return [name, .int(object.items("secrets").count), age]
        case "PersistentVolumeClaim":
            return claimCells(object, name: name, age: age)
        case "PersistentVolume":
            return volumeCells(object, name: name, age: age)
        case "Node":
            return nodeCells(object, name: name, age: age)
        case "Ingress", "IngressClass":
            return ingressCells(resource, object, name: name, age: age)
        case "ControllerRevision":
            var controller = "<none>"
            if let owner = object.items("metadata", "ownerReferences").first(where: { $0["controller"] == .bool(true) }) {
                let group = (owner.string("apiVersion") ?? "").split(separator: "/").dropLast().first.map(String.init) ?? ""
                let kind = (owner.string("kind") ?? "") + (group.isEmpty ? "" : ".\(group)")
                controller = "\(kind.lowercased())/\(owner.string("name") ?? "")"
            }
            return [name, .string(controller), int("revision"), age]
        default:
            return nil
        }
    }

    /// The printer writes the boolean column as text: `True`, `False`, or `<unset>`.
    static func suspendText(_ value: OrderedJSON?) -> String {
        switch value {
        case .bool(true)?: return "True"
        case .bool(false)?: return "False"
        default: return "<unset>"
        }
    }

    /// `metav1.FormatLabelSelector`: the selector's string form, `<none>` when it selects by nothing.
    static func formattedSelector(_ selector: OrderedJSON?) -> String {
        let text = KubeKinds.selectorString(selector)
        return text.isEmpty ? "<none>" : text
    }

    /// The extra row conditions of a pod that has finished.
    static func rowConditions(_ resource: KubeResource, _ object: OrderedJSON) -> OrderedJSON? {
        guard resource.kind == "Pod", resource.group.isEmpty else { return nil }
        switch object.string("status", "phase") {
        case "Succeeded":
            return .array([.object([("type", .string("Completed")), ("status", .string("True")), ("reason", .string("Succeeded")),
                                    ("message", .string("The pod has completed successfully."))])])
        case "Failed":
            return .array([.object([("type", .string("Completed")), ("status", .string("True")), ("reason", .string("Failed")),
                                    ("message", .string("The pod failed."))])])
        default:
            return nil
        }
    }

    /// READY, STATUS and RESTARTS as kubectl prints them: init containers first (`Init:0/1`), then
    /// the app containers from last to first, a waiting or terminated reason winning.
    static func podCells(_ pod: OrderedJSON, now: Date) -> [OrderedJSON] {
        let initSpecs = pod.items("spec", "initContainers")
        let sidecars = Set(initSpecs.filter { $0.string("restartPolicy") == "Always" }.compactMap { $0.string("name") })
        var total = pod.items("spec", "containers").count + sidecars.count
        var ready = 0
        var restarts = 0
        var sidecarRestarts = 0
        var lastRestart: Date?
        var lastSidecarRestart: Date?
        let phase = pod.string("status", "phase") ?? ""
        var reason = pod.string("status", "reason").flatMap { $0.isEmpty ? nil : $0 } ?? phase
        if pod.items("status", "conditions").contains(where: { $0.string("type") == "PodScheduled" && $0.string("reason") == "SchedulingGated" }) {
            reason = "SchedulingGated"
        }
        func finished(_ status: OrderedJSON) -> Date? {
            status.string("lastState", "terminated", "finishedAt").flatMap { try? Date($0, strategy: .iso8601) }
        }
        func later(_ a: Date?, _ b: Date?) -> Date? {
            guard let a else { return b }
            guard let b else { return a }
            return max(a, b)
        }
        var initializing = false
        for (index, status) in pod.items("status", "initContainerStatuses").enumerated() {
            let count = status["restartCount"]?.int ?? 0
            restarts += count
            lastRestart = later(lastRestart, finished(status))
            let sidecar = sidecars.contains(status.string("name") ?? "")
            if sidecar {
                sidecarRestarts += count
                lastSidecarRestart = later(lastSidecarRestart, finished(status))
                if status["started"] == .bool(true), status["ready"] == .bool(true) { ready += 1 }
            }
            if let terminated = status.value(at: ["state", "terminated"]), terminated["exitCode"]?.int == 0 { continue }
            if sidecar, status["started"] == .bool(true) { continue }
            if let terminated = status.value(at: ["state", "terminated"]) {
                if let why = terminated.string("reason"), !why.isEmpty {
                    reason = "Init:" + why
                } else if let signal = terminated["signal"]?.int, signal != 0 {
                    reason = "Init:Signal:\(signal)"
                } else {
                    reason = "Init:ExitCode:\(terminated["exitCode"]?.int ?? 0)"
                }
            } else if let why = status.string("state", "waiting", "reason"), !why.isEmpty, why != "PodInitializing" {
                reason = "Init:" + why
            } else {
                reason = "Init:\(index)/\(initSpecs.count)"
            }
            initializing = true
            break
        }
        let initialized = pod.items("status", "conditions").contains { $0.string("type") == "Initialized" && $0.string("status") == "True" }
        if !initializing || initialized {
            restarts = sidecarRestarts
            lastRestart = lastSidecarRestart
            var running = false
            for status in pod.items("status", "containerStatuses").reversed() {
                restarts += status["restartCount"]?.int ?? 0
                lastRestart = later(lastRestart, finished(status))
                if let why = status.string("state", "waiting", "reason"), !why.isEmpty {
                    reason = why
                } else if let terminated = status.value(at: ["state", "terminated"]) {
                    if let why = terminated.string("reason"), !why.isEmpty {
                        reason = why
                    } else if let signal = terminated["signal"]?.int, signal != 0 {
                        reason = "Signal:\(signal)"
                    } else {
                        reason = "ExitCode:\(terminated["exitCode"]?.int ?? 0)"
                    }
                } else if status["ready"] == .bool(true), status.has("state", "running") {
                    running = true
                    ready += 1
                }
            }
            if reason == "Completed", running {
                let podReady = pod.items("status", "conditions").contains { $0.string("type") == "Ready" && $0.string("status") == "True" }
                reason = podReady ? "Running" : "NotReady"
            }
        }
        if pod.has("metadata", "deletionTimestamp") {
            if pod.string("status", "reason") == "NodeLost" {
                reason = "Unknown"
            } else if phase != "Succeeded" && phase != "Failed" {
                reason = "Terminating"
            }
        }
        total = max(total, 0)
        var restartText = String(restarts)
        if restarts != 0, let lastRestart {
            restartText += " (\(humanDuration(seconds: Int(now.timeIntervalSince(lastRestart).rounded(.down)))) ago)"
        }
        let ip = pod.items("status", "podIPs").first?.string("ip") ?? pod.string("status", "podIP").flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        let node = pod.string("spec", "nodeName").flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        let nominated = pod.string("status", "nominatedNodeName").flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"
        var gates = "<none>"
        let gateTypes = pod.items("spec", "readinessGates").compactMap { $0.string("conditionType") }
        if !gateTypes.isEmpty {
            let met = gateTypes.filter { type in
                pod.items("status", "conditions").contains { $0.string("type") == type && $0.string("status") == "True" }
            }
            gates = "\(met.count)/\(gateTypes.count)"
        }
        return [.string(pod.string("metadata", "name") ?? ""), .string("\(ready)/\(total)"), .string(reason), .string(restartText),
                .string(age(since: pod.string("metadata", "creationTimestamp"), now: now)), .string(ip), .string(node), .string(nominated), .string(gates)]
    }

    private static func hasCondition(_ object: OrderedJSON, _ type: String) -> Bool {
        object.items("status", "conditions").contains { $0.string("type") == type && $0.string("status") == "True" }
    }

    static func jobStatus(_ job: OrderedJSON) -> String {
        if hasCondition(job, "Complete") { return "Complete" }
        if hasCondition(job, "Failed") { return "Failed" }
        if job.has("metadata", "deletionTimestamp") { return "Terminating" }
        if hasCondition(job, "Suspended") { return "Suspended" }
        if hasCondition(job, "FailureTarget") { return "FailureTarget" }
        if hasCondition(job, "SuccessCriteriaMet") { return "SuccessCriteriaMet" }
        return "Running"
    }

    static func jobCompletions(_ job: OrderedJSON) -> String {
        let succeeded = job.value(at: ["status", "succeeded"])?.int ?? 0
        if let completions = job.value(at: ["spec", "completions"])?.int { return "\(succeeded)/\(completions)" }
        let parallelism = job.value(at: ["spec", "parallelism"])?.int ?? 0
        return parallelism > 1 ? "\(succeeded)/1 of \(parallelism)" : "\(succeeded)/1"
    }

    static func jobDuration(_ job: OrderedJSON, now: Date) -> String {
        func date(_ field: String) -> Date? { job.string("status", field).flatMap { try? Date($0, strategy: .iso8601) } }
        guard let start = date("startTime") else { return "" }
        let end = date("completionTime") ?? now
        return humanDuration(seconds: Int(end.timeIntervalSince(start).rounded(.down)))
    }

    /// `RWO,ROX,RWX,RWOP`, in that order whatever the list's.
    static func accessModes(_ modes: [OrderedJSON]) -> String {
        let given = Set(modes.compactMap { $0.string() })
        return [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
            .filter { given.contains($0.0) }.map(\.1).joined(separator: ",")
    }

    private static func storageClass(_ object: OrderedJSON) -> String {
        object.string("metadata", "annotations", "volume.beta.kubernetes.io/storage-class") ?? object.string("spec", "storageClassName") ?? ""
    }

    private static func claimCells(_ claim: OrderedJSON, name: OrderedJSON, age: OrderedJSON) -> [OrderedJSON] {
        let phase = claim.has("metadata", "deletionTimestamp") ? "Terminating" : claim.string("status", "phase") ?? ""
        let volume = claim.string("spec", "volumeName") ?? ""
        var capacity = ""
        var modes = ""
        if !volume.isEmpty {
            modes = accessModes(claim.items("status", "accessModes"))
            capacity = claim.string("status", "capacity", "storage") ?? "0"
        }
        let attributesClass = claim.string("spec", "volumeAttributesClassName").flatMap { $0.isEmpty ? nil : $0 } ?? "<unset>"
        return [name, .string(phase), .string(volume), .string(capacity), .string(modes), .string(storageClass(claim)), .string(attributesClass), age,
                .string(claim.string("spec", "volumeMode") ?? "<unset>")]
    }

    private static func volumeCells(_ volume: OrderedJSON, name: OrderedJSON, age: OrderedJSON) -> [OrderedJSON] {
        let phase = volume.has("metadata", "deletionTimestamp") ? "Terminating" : volume.string("status", "phase") ?? ""
        var claim = ""
        if volume.has("spec", "claimRef") {
            claim = "\(volume.string("spec", "claimRef", "namespace") ?? "")/\(volume.string("spec", "claimRef", "name") ?? "")"
        }
        let attributesClass = volume.string("spec", "volumeAttributesClassName").flatMap { $0.isEmpty ? nil : $0 } ?? "<unset>"
        return [name, .string(volume.string("spec", "capacity", "storage") ?? "0"), .string(accessModes(volume.items("spec", "accessModes"))),
                .string(volume.string("spec", "persistentVolumeReclaimPolicy") ?? ""), .string(phase), .string(claim), .string(storageClass(volume)),
                .string(attributesClass), .string(volume.string("status", "reason") ?? ""), age,
                .string(volume.string("spec", "volumeMode") ?? "<unset>")]
    }

    private static func nodeCells(_ node: OrderedJSON, name: OrderedJSON, age: OrderedJSON) -> [OrderedJSON] {
        var status: [String] = []
        if let ready = node.items("status", "conditions").first(where: { $0.string("type") == "Ready" }) {
            status.append(ready.string("status") == "True" ? "Ready" : "NotReady")
        } else {
            status.append("Unknown")
        }
        if node.value(at: ["spec", "unschedulable"]) == .bool(true) { status.append("SchedulingDisabled") }
        var roles: Set<String> = []
        for (key, value) in node.stringMap(at: ["metadata", "labels"]) ?? [:] {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if key == "kubernetes.io/role", !value.isEmpty {
                roles.insert(value)
            }
        }
        func address(_ type: String) -> String {
            node.items("status", "addresses").first { $0.string("type") == type }?.string("address") ?? "<none>"
        }
        func info(_ field: String) -> String {
            node.string("status", "nodeInfo", field).flatMap { $0.isEmpty ? nil : $0 } ?? "<unknown>"
        }
        return [name, .string(status.joined(separator: ",")), .string(roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")), age,
                .string(node.string("status", "nodeInfo", "kubeletVersion") ?? ""), .string(address("InternalIP")), .string(address("ExternalIP")),
                .string(info("osImage")), .string(info("kernelVersion")), .string(info("containerRuntimeVersion"))]
    }
}
