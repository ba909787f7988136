import BerthTemplate
import Foundation

/// What the API server does to each kind's objects on the way in: the checks and defaults of
/// the kinds served so far, and the fields each kind can be selected by.
enum KubeKinds {
    /// The field-selector labels a resource supports.
    static func selectableFields(_ resource: KubeResource) -> Set<String> {
        var fields: Set<String> = ["metadata.name", "metadata.namespace"]
        switch resource.kind {
        case "Secret": fields.insert("type")
        case "Namespace": fields.insert("status.phase")
        case "Event": fields.formUnion(eventFields.keys)
        case "Pod": fields.formUnion(podFields.keys.map { $0 } + ["spec.hostNetwork"])
        case "Node": fields.insert("spec.unschedulable")
        case "Job": fields.insert("status.successful")
        case "ReplicaSet": fields.insert("status.replicas")
        case "Service": fields.formUnion(["spec.clusterIP", "spec.type"])
        default: break
        }
        return fields
    }

    /// A Pod's selectable fields and where they are (the kubelet selects its pods by node name).
    static let podFields: [String: [String]] = [
        "spec.nodeName": ["spec", "nodeName"], "spec.restartPolicy": ["spec", "restartPolicy"], "spec.schedulerName": ["spec", "schedulerName"],
        "spec.serviceAccountName": ["spec", "serviceAccountName"], "status.phase": ["status", "phase"], "status.podIP": ["status", "podIP"],
        "status.nominatedNodeName": ["status", "nominatedNodeName"],
    ]

    /// An Event's selectable fields and where they are (what `kubectl describe` selects by).
    static let eventFields: [String: [String]] = [
        "involvedObject.kind": ["involvedObject", "kind"], "involvedObject.namespace": ["involvedObject", "namespace"],
        "involvedObject.name": ["involvedObject", "name"], "involvedObject.uid": ["involvedObject", "uid"],
        "involvedObject.apiVersion": ["involvedObject", "apiVersion"], "involvedObject.resourceVersion": ["involvedObject", "resourceVersion"],
        "involvedObject.fieldPath": ["involvedObject", "fieldPath"], "reason": ["reason"], "reportingComponent": ["reportingComponent"],
        "source": ["source", "component"], "type": ["type"],
    ]

    /// The values of the selectable fields of `object`.
    static func fields(of object: OrderedJSON, _ resource: KubeResource) -> [String: String] {
        var fields = ["metadata.name": object.string("metadata", "name") ?? "",
                      "metadata.namespace": object.string("metadata", "namespace") ?? ""]
        switch resource.kind {
        case "Secret": fields["type"] = object.string("type") ?? ""
        case "Namespace": fields["status.phase"] = object.string("status", "phase") ?? ""
        case "Event":
            for (field, path) in eventFields { fields[field] = object.string(at: path) ?? "" }
        case "Pod":
            for (field, path) in podFields { fields[field] = object.string(at: path) ?? "" }
            fields["spec.hostNetwork"] = object.value(at: ["spec", "hostNetwork"]) == .bool(true) ? "true" : "false"
        case "Node": fields["spec.unschedulable"] = object.value(at: ["spec", "unschedulable"]) == .bool(true) ? "true" : "false"
        case "Job": fields["status.successful"] = String(object.value(at: ["status", "succeeded"])?.int ?? 0)
        case "ReplicaSet": fields["status.replicas"] = String(object.value(at: ["status", "replicas"])?.int ?? 0)
        case "Service":
            fields["spec.clusterIP"] = object.string("spec", "clusterIP") ?? ""
            fields["spec.type"] = object.string("spec", "type") ?? ""
        default: break
        }
        return fields
    }

    /// Checks a new (`creating`) or replacing object of `resource` and applies the server's
    /// defaults; the object's `kind`, `apiVersion` and name are already settled.
    static func admit(_ object: OrderedJSON, _ resource: KubeResource, name: String, creating: Bool = false) throws(KubeAPIError) -> OrderedJSON {
        var causes: [Cause] = []
        if resource.kind == "Namespace" {
            if let problem = dns1123LabelProblem(name) {
                causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(name)): \(problem)", field: "metadata.name"))
            }
        } else if let problem = dns1123SubdomainProblem(name) {
            causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(name)): \(problem)", field: "metadata.name"))
        }
        causes += metadataMapProblems(object)
        var object = object
        if resource.kind == "Node" || resource.kind == "PersistentVolume" {
            causes = causes.filter { $0.field != "metadata.name" }
            if let problem = dns1123SubdomainProblem(name) {
                causes.insert(.init(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(name)): \(problem)", field: "metadata.name"), at: 0)
            }
        }
        if resource.group.isEmpty || resource.group == "apps" || resource.group == "batch" {
            var kindCauses: [Cause] = []
            do {
                (object, kindCauses) = try admitWorkload(object, resource, creating: creating)
            } catch where error.code == 400 {
                // A bad quantity fails the decoding of the body, before any validation.
                throw .badRequest("\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): \(error.message)")
            }
            causes += kindCauses
        }
        if let (admitted, kindCauses) = admitNetworking(object, resource, name: name, creating: creating) {
            object = admitted
            causes = causes.filter { $0.field != "metadata.name" || resource.kind != "Service" } + kindCauses
        }
        if creating, resource.hasStatus, resource.kind != "Node", resource.kind != "Namespace" {
            object = object.setting(["status"], to: initialStatus(object, resource))
        }
        switch resource.kind {
        case "Namespace":
            var labels = object.stringMap(at: ["metadata", "labels"]) ?? [:]
            labels["kubernetes.io/metadata.name"] = name
            object = object.setting(["metadata", "labels"], to: .stringMap(labels))
            if object.value(at: ["spec", "finalizers"]) == nil {
                object = object.setting(["spec", "finalizers"], to: .array([.string("kubernetes")]))
            }
            object = object.setting(["status", "phase"], to: .string("Active"))
        case "ConfigMap":
            causes += configMapKeyProblems(object)
        case "Secret":
            object = try foldStringData(object)
            causes += configMapKeyProblems(object)
            if object.string("type") == nil { object = object.setting(["type"], to: .string("Opaque")) }
        default:
            break
        }
        guard causes.isEmpty else { throw .invalid(resource, name, causes) }
        return object
    }

    /// The defaults and checks of the kinds in `Kinds/`.
    private static func admitWorkload(_ object: OrderedJSON, _ resource: KubeResource, creating: Bool) throws(KubeAPIError) -> (OrderedJSON, [Cause]) {
        switch resource.kind {
        case "Pod":
            let pod = try admitPod(object)
            return (pod, podSpecProblems(pod["spec"] ?? .object([]), path: "spec"))
        case "Deployment": return try admitDeployment(object)
        case "ReplicaSet": return try admitReplicaSet(object)
        case "StatefulSet": return try admitStatefulSet(object)
        case "DaemonSet": return try admitDaemonSet(object)
        case "Job": return try admitJob(object, creating: creating)
        case "CronJob": return try admitCronJob(object)
        case "PersistentVolumeClaim": return try admitPersistentVolumeClaim(object)
        case "PersistentVolume": return try admitPersistentVolume(object)
        case "Node": return (try admitNode(object), [])
        default: return (object, [])
        }
    }

    /// The status a new object starts with (what a client sends is dropped, as the status
    /// subresource owns it).
    static func initialStatus(_ object: OrderedJSON, _ resource: KubeResource) -> OrderedJSON {
        switch resource.kind {
        case "Pod": return initialPodStatus(object)
        case "PersistentVolumeClaim", "PersistentVolume": return .object([("phase", .string("Pending"))])
        case "ReplicaSet": return .object([("replicas", .int(0))])
        case "Service", "Ingress": return .object([("loadBalancer", .object([]))])
        case "StatefulSet": return .object([("availableReplicas", .int(0)), ("replicas", .int(0))])
        case "DaemonSet":
            return .object([("currentNumberScheduled", .int(0)), ("desiredNumberScheduled", .int(0)), ("numberMisscheduled", .int(0)),
                            ("numberReady", .int(0))])
        default: return .object([])
        }
    }

    /// An update's own rules, given the stored object: what `scope` lets the write change, and
    /// the fields each kind keeps immutable.
    static func admitUpdate(_ object: OrderedJSON, old: OrderedJSON, _ resource: KubeResource, name: String,
                            scope: KubeWriteScope) throws(KubeAPIError) -> OrderedJSON {
        var object = object
        switch scope {
        case .whole: break
        case .main: object = object.setting(["status"], to: old["status"])
        case .status:
            let status = object["status"]
            object = old.setting(["status"], to: status)
            for field in ["labels", "annotations", "resourceVersion"] {
                object = object.setting(["metadata", field], to: status == nil ? old.value(at: ["metadata", field]) : object.value(at: ["metadata", field]))
            }
            return object
        }
        var causes: [Cause] = []
        switch resource.kind {
        case "Pod": causes = podUpdateProblems(object, old: old, binding: scope == .whole)
        case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job": causes = workloadUpdateProblems(object, old: old, resource)
        case "Service" where resource.group.isEmpty: (object, causes) = admitServiceUpdate(object, old: old)
        case "IngressClass": causes = ingressClassUpdateProblems(object, old: old)
        case "PersistentVolumeClaim":
            var newSpec = object["spec"] ?? .object([])
            var oldSpec = old["spec"] ?? .object([])
            newSpec = newSpec.setting(["resources", "requests"], to: oldSpec.value(at: ["resources", "requests"]))
            // The binder sets volumeName once, on a claim that has none.
            if (oldSpec.string("volumeName") ?? "").isEmpty { oldSpec = oldSpec.setting(["volumeName"], to: newSpec["volumeName"]) }
            if !KubeObjectStore.sameContent(newSpec, oldSpec) {
                causes.append(forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
            }
        default: break
        }
        guard causes.isEmpty else { throw .invalid(resource, name, causes) }
        return object
    }

    /// Secrets: `stringData` is write-only; its values are folded into `data` as base64, winning
    /// over `data` entries of the same key. `data` values must be base64.
    private static func foldStringData(_ object: OrderedJSON) throws(KubeAPIError) -> OrderedJSON {
        var data: [String: String] = [:]
        for (key, value) in object.value(at: ["data"])?.members ?? [] {
            guard case .string(let encoded) = value else { continue }
            guard Data(base64Encoded: encoded) != nil else {
                throw .badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte \(badBase64Offset(encoded))")
            }
            data[key] = encoded
        }
        let stringData = object.stringMap(at: ["stringData"])
        for (key, value) in stringData ?? [:] {
            data[key] = Data(value.utf8).base64EncodedString()
        }
        var result = object.setting(["stringData"], to: nil)
        if object.value(at: ["data"]) != nil || stringData != nil {
            result = result.setting(["data"], to: .stringMap(data))
        }
        return result
    }

    private static func badBase64Offset(_ text: String) -> Int {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
        return text.firstIndex { !alphabet.contains($0) }.map { text.distance(from: text.startIndex, to: $0) } ?? text.count
    }

    private static func configMapKeyProblems(_ object: OrderedJSON) -> [KubeAPIError.Cause] {
        var causes: [KubeAPIError.Cause] = []
        for field in ["data", "binaryData"] {
            for (key, _) in object.value(at: [field])?.members ?? [] {
                let valid = !key.isEmpty && key.count <= 253 && key != "." && key != ".."
                    && key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._".unicodeScalars.contains($0)) }
                if !valid {
                    causes.append(.init(reason: "FieldValueInvalid",
                                        message: "Invalid value: \(quoted(key)): a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                                        field: "\(field)[\(key)]"))
                }
            }
        }
        return causes
    }

    private static func metadataMapProblems(_ object: OrderedJSON) -> [KubeAPIError.Cause] {
        var causes: [KubeAPIError.Cause] = []
        for (key, value) in object.value(at: ["metadata", "labels"])?.members ?? [] {
            if !LabelSelector.isValidKey(key) {
                causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(key)): name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", field: "metadata.labels"))
            }
            guard case .string(let text) = value, LabelSelector.isValidValue(text) else {
                causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(value.compact): a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", field: "metadata.labels"))
                continue
            }
        }
        return causes
    }

    static func quoted(_ text: String) -> String { OrderedJSON.string(text).compact }

    /// Why `name` is not a DNS-1123 label (namespaces), or nil.
    static func dns1123LabelProblem(_ name: String) -> String? {
        if name.count > 63 { return "must be no more than 63 characters" }
        guard isDNSLabel(name) else {
            return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Why `name` is not a DNS-1123 subdomain (most objects), or nil.
    static func dns1123SubdomainProblem(_ name: String) -> String? {
        if name.count > 253 { return "must be no more than 253 characters" }
        guard name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isDNSLabel(String($0)) }) else {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        }
        return nil
    }

    static func isDNSLabel(_ text: String) -> Bool {
        let lowerAlphanumeric: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        return lowerAlphanumeric(first) && lowerAlphanumeric(last) && text.unicodeScalars.allSatisfy { lowerAlphanumeric($0) || $0 == "-" }
    }
}
