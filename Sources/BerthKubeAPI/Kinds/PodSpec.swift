import BerthTemplate

/// Pods and pod templates: the apiserver's defaults and checks of a pod spec.
extension KubeKinds {
    /// A Pod as created: the spec defaults (those of a pod template, plus what the admission
    /// plugins add to real pods: the service account, priority and the not-ready/unreachable
    /// tolerations) and the first status (Pending, with its QoS class).
    static func admitPod(_ pod: OrderedJSON) throws(KubeAPIError) -> OrderedJSON {
        var pod = pod.setting(["spec"], to: try defaultPodSpec(pod["spec"] ?? .object([]), isPod: true))
        pod = pod.defaulting(["spec", "enableServiceLinks"], .bool(true))
            .defaulting(["spec", "serviceAccountName"], .string(pod.string("spec", "serviceAccount") ?? "default"))
        pod = pod.defaulting(["spec", "serviceAccount"], .string(pod.string("spec", "serviceAccountName") ?? "default"))
            .defaulting(["spec", "priority"], .int(0))
            .defaulting(["spec", "preemptionPolicy"], .string("PreemptLowerPriority"))
        var tolerations = pod.items("spec", "tolerations")
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let tolerated = tolerations.contains { toleration in
                let effect = toleration.string("effect") ?? ""
                let matchesKey = toleration.string("key") == key || (toleration.string("key") ?? "").isEmpty && toleration.string("operator") == "Exists"
                return matchesKey && (effect.isEmpty || effect == "NoExecute")
            }
            if !tolerated {
                tolerations.append(.object([("key", .string(key)), ("operator", .string("Exists")), ("effect", .string("NoExecute")),
                                            ("tolerationSeconds", .int(300))]))
            }
        }
        pod = pod.setting(["spec", "tolerations"], to: .array(tolerations))
        return pod
    }

    /// The first status of a new pod.
    static func initialPodStatus(_ pod: OrderedJSON) -> OrderedJSON {
        .object([("phase", .string("Pending")), ("qosClass", .string(qosClass(pod["spec"] ?? .object([]))))])
    }

    /// Guaranteed when every container limits cpu and memory with requests equal to the limits,
    /// BestEffort when none requests or limits anything, Burstable otherwise.
    static func qosClass(_ spec: OrderedJSON) -> String {
        let containers = spec.items("containers") + spec.items("initContainers")
        var anything = false
        var guaranteed = true
        for container in containers {
            let requests = container.value(at: ["resources", "requests"])?.members ?? []
            let limits = container.value(at: ["resources", "limits"])?.members ?? []
            let tracked = { (name: String) in name == "cpu" || name == "memory" }
            if requests.contains(where: { tracked($0.0) }) || limits.contains(where: { tracked($0.0) }) { anything = true }
            let limitMap = Dictionary(limits.filter { tracked($0.0) }, uniquingKeysWith: { a, _ in a })
            guard limitMap.count == 2 else { guaranteed = false; continue }
            for (name, value) in requests where tracked(name) {
                if quantityValue(value) != quantityValue(limitMap[name]) { guaranteed = false }
            }
        }
        if !anything { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    private static func quantityValue(_ value: OrderedJSON?) -> Int128? {
        guard let text = value?.string() ?? value.flatMap({ if case .number(let n) = $0 { n } else { nil } }) else { return nil }
        return (try? KubeQuantity(text))?.nanos
    }

    /// The defaults of a pod spec (of a Pod when `isPod`, else of a template).
    static func defaultPodSpec(_ spec: OrderedJSON, isPod: Bool) throws(KubeAPIError) -> OrderedJSON {
        var spec = spec.defaulting(["dnsPolicy"], .string("ClusterFirst"))
            .defaulting(["restartPolicy"], .string("Always"))
            .defaulting(["terminationGracePeriodSeconds"], .int(30))
            .defaulting(["securityContext"], .object([]))
            .defaulting(["schedulerName"], .string("default-scheduler"))
        let hostNetwork = spec["hostNetwork"] == .bool(true)
        for field in ["containers", "initContainers"] {
            guard case .array(let containers)? = spec[field] else { continue }
            var defaulted: [OrderedJSON] = []
            for container in containers {
                defaulted.append(try defaultContainer(container, isPod: isPod, hostNetwork: hostNetwork))
            }
            spec = spec.setting([field], to: .array(defaulted))
        }
        spec = spec.mappingArray(["volumes"], defaultVolume)
        if case .object? = spec["overhead"] { spec = spec.setting(["overhead"], to: try canonicalQuantities(spec["overhead"])) }
        return spec
    }

    private static func defaultContainer(_ container: OrderedJSON, isPod: Bool, hostNetwork: Bool) throws(KubeAPIError) -> OrderedJSON {
        var container = container
            .defaulting(["terminationMessagePath"], .string("/dev/termination-log"))
            .defaulting(["terminationMessagePolicy"], .string("File"))
            .defaulting(["resources"], .object([]))
        if let image = container.string("image"), !image.isEmpty {
            container = container.defaulting(["imagePullPolicy"], .string(pullPolicy(image)))
        }
        container = container.mappingArray(["ports"]) { port in
            var port = port.defaulting(["protocol"], .string("TCP"))
            if isPod, hostNetwork, let number = port["containerPort"] { port = port.defaulting(["hostPort"], number) }
            return port
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] where container.has(probe) {
            container = container.setting([probe], to: defaultProbe(container[probe] ?? .object([])))
        }
        for hook in ["postStart", "preStop"] where container.has("lifecycle", hook, "httpGet") {
            container = container.setting(["lifecycle", hook, "httpGet"], to: defaultHTTPGet(container.value(at: ["lifecycle", hook, "httpGet"]) ?? .object([])))
        }
        container = container.mappingArray(["env"]) { variable in
            variable.has("valueFrom", "fieldRef") ? variable.defaulting(["valueFrom", "fieldRef", "apiVersion"], .string("v1")) : variable
        }
        for part in ["limits", "requests"] where container.has("resources", part) {
            container = container.setting(["resources", part], to: try canonicalQuantities(container.value(at: ["resources", part])))
        }
        // A Pod's missing requests default to its limits (templates keep theirs as written).
        if isPod, case .object(let limits)? = container.value(at: ["resources", "limits"]) {
            for (name, value) in limits {
                container = container.defaulting(["resources", "requests", name], value)
            }
        }
        return container
    }

    /// `Always` for `:latest` or no tag, else `IfNotPresent` (a digest counts as a pin).
    static func pullPolicy(_ image: String) -> String {
        if image.contains("@") { return "IfNotPresent" }
        let lastComponent = image.split(separator: "/").last.map(String.init) ?? image
        guard let colon = lastComponent.lastIndex(of: ":") else { return "Always" }
        return lastComponent[lastComponent.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }

    private static func defaultProbe(_ probe: OrderedJSON) -> OrderedJSON {
        var probe = probe.defaulting(["timeoutSeconds"], .int(1)).defaulting(["periodSeconds"], .int(10))
            .defaulting(["successThreshold"], .int(1)).defaulting(["failureThreshold"], .int(3))
        if probe.has("httpGet") { probe = probe.setting(["httpGet"], to: defaultHTTPGet(probe["httpGet"] ?? .object([]))) }
        return probe
    }

    private static func defaultHTTPGet(_ action: OrderedJSON) -> OrderedJSON {
        action.defaulting(["path"], .string("/")).defaulting(["scheme"], .string("HTTP"))
    }

    private static func defaultVolume(_ volume: OrderedJSON) -> OrderedJSON {
        let sources = volume.members.map(\.0).filter { $0 != "name" }
        if sources.isEmpty { return volume.setting(["emptyDir"], to: .object([])) }
        var volume = volume
        for source in ["configMap", "secret", "downwardAPI", "projected"] where volume.has(source) {
            volume = volume.defaulting([source, "defaultMode"], .int(420))
        }
        if volume.has("downwardAPI") {
            volume = volume.mappingArray(["downwardAPI", "items"]) { item in
                item.has("fieldRef") ? item.defaulting(["fieldRef", "apiVersion"], .string("v1")) : item
            }
        }
        if volume.has("hostPath") { volume = volume.defaulting(["hostPath", "type"], .string("")) }
        if volume.has("emptyDir", "sizeLimit"), let limit = volume.value(at: ["emptyDir", "sizeLimit"]),
           let canonical = try? canonicalQuantity(limit) {
            volume = volume.setting(["emptyDir", "sizeLimit"], to: canonical)
        }
        return volume
    }

    /// A map of resource quantities in canonical spelling; a bad quantity is refused as the
    /// apiserver's decoder refuses it.
    static func canonicalQuantities(_ map: OrderedJSON?) throws(KubeAPIError) -> OrderedJSON {
        guard case .object(let members)? = map else { return map ?? .null }
        var result: [(String, OrderedJSON)] = []
        for (name, value) in members {
            do {
                result.append((name, try canonicalQuantity(value)))
            } catch {
                throw .badRequest("quantity \(name): \(KubeQuantity.syntaxMessage)")
            }
        }
        return .object(result)
    }

    static func canonicalQuantity(_ value: OrderedJSON) throws -> OrderedJSON {
        switch value {
        case .string(let text): return .string(try KubeQuantity(text).canonical)
        case .number(let text): return .string(try KubeQuantity(text).canonical)
        default: throw KubeQuantity.ParseError.syntax
        }
    }

    /// The problems of a (defaulted) pod spec, with field paths under `path` (`spec` or
    /// `spec.template.spec`).
    static func podSpecProblems(_ spec: OrderedJSON, path: String, claimTemplates: [String] = []) -> [Cause] {
        var causes: [Cause] = []
        let containers = spec.items("containers")
        if containers.isEmpty { causes.append(required("\(path).containers")) }
        var names: Set<String> = []
        for (field, list) in [("initContainers", spec.items("initContainers")), ("containers", containers)] {
            for (index, container) in list.enumerated() {
                let at = "\(path).\(field)[\(index)]"
                let name = container.string("name") ?? ""
                if name.isEmpty {
                    causes.append(required("\(at).name"))
                } else if let problem = dns1123LabelProblem(name) {
                    causes.append(invalid("\(at).name", quoted(name), problem))
                } else if !names.insert(name).inserted {
                    causes.append(duplicate("\(at).name", name))
                }
                if (container.string("image") ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                    causes.append(required("\(at).image"))
                }
                if let policy = container.string("imagePullPolicy"), !["Always", "IfNotPresent", "Never"].contains(policy) {
                    causes.append(unsupported("\(at).imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
                }
                for (portIndex, port) in container.items("ports").enumerated() {
                    let number = port["containerPort"]?.int ?? 0
                    if !(1...65535).contains(number) {
                        causes.append(invalid("\(at).ports[\(portIndex)].containerPort", numberText(port["containerPort"]), "must be between 1 and 65535, inclusive"))
                    }
                    if let proto = port.string("protocol"), !["TCP", "UDP", "SCTP"].contains(proto) {
                        causes.append(unsupported("\(at).ports[\(portIndex)].protocol", proto, ["SCTP", "TCP", "UDP"]))
                    }
                }
            }
        }
        if let policy = spec.string("restartPolicy"), !["Always", "OnFailure", "Never"].contains(policy) {
            causes.append(unsupported("\(path).restartPolicy", policy, ["Always", "OnFailure", "Never"]))
        }
        if let policy = spec.string("dnsPolicy"), !["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"].contains(policy) {
            causes.append(unsupported("\(path).dnsPolicy", policy, ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]))
        }
        var volumeNames = Set(claimTemplates)
        for (index, volume) in spec.items("volumes").enumerated() {
            let name = volume.string("name") ?? ""
            if name.isEmpty {
                causes.append(required("\(path).volumes[\(index)].name"))
            } else if let problem = dns1123LabelProblem(name) {
                causes.append(invalid("\(path).volumes[\(index)].name", quoted(name), problem))
            } else if !volumeNames.insert(name).inserted {
                causes.append(duplicate("\(path).volumes[\(index)].name", name))
            }
        }
        for (field, list) in [("initContainers", spec.items("initContainers")), ("containers", containers)] {
            for (index, container) in list.enumerated() {
                for (mountIndex, mount) in container.items("volumeMounts").enumerated() {
                    let name = mount.string("name") ?? ""
                    let at = "\(path).\(field)[\(index)].volumeMounts[\(mountIndex)]"
                    if name.isEmpty {
                        causes.append(required("\(at).name"))
                    } else if !volumeNames.contains(name) {
                        causes.append(Cause(reason: "FieldValueNotFound", message: "Not found: \(quoted(name))", field: "\(at).name"))
                    }
                    if (mount.string("mountPath") ?? "").isEmpty { causes.append(required("\(at).mountPath")) }
                }
            }
        }
        return causes
    }

    /// A pod may change only its images, activeDeadlineSeconds, added tolerations and a negative
    /// grace period; anything else is refused as the apiserver refuses it. With `binding` (the
    /// node's own scheduler writing, as the `pods/binding` subresource does), an unbound pod may
    /// also get its `spec.nodeName`.
    static func podUpdateProblems(_ new: OrderedJSON, old: OrderedJSON, binding: Bool) -> [Cause] {
        var newSpec = new["spec"] ?? .object([])
        let oldSpec = old["spec"] ?? .object([])
        if binding, (oldSpec.string("nodeName") ?? "").isEmpty {
            newSpec = newSpec.setting(["nodeName"], to: oldSpec["nodeName"])
        }
        for field in ["containers", "initContainers"] {
            let oldContainers = oldSpec.items(field)
            guard case .array(let containers)? = newSpec[field], containers.count == oldContainers.count else { continue }
            newSpec = newSpec.setting([field], to: .array(zip(containers, oldContainers).map { $0.setting(["image"], to: $1["image"]) }))
        }
        newSpec = newSpec.setting(["activeDeadlineSeconds"], to: oldSpec["activeDeadlineSeconds"])
        let oldTolerations = oldSpec.items("tolerations")
        let newTolerations = newSpec.items("tolerations")
        if newTolerations.count >= oldTolerations.count,
           oldTolerations.allSatisfy({ old in newTolerations.contains { KubeObjectStore.sameContent($0, old) } }) {
            newSpec = newSpec.setting(["tolerations"], to: oldSpec["tolerations"])
        }
        if (oldSpec["terminationGracePeriodSeconds"]?.int ?? 0) < 0, newSpec["terminationGracePeriodSeconds"]?.int == 1 {
            newSpec = newSpec.setting(["terminationGracePeriodSeconds"], to: oldSpec["terminationGracePeriodSeconds"])
        }
        guard !KubeObjectStore.sameContent(newSpec, oldSpec) else { return [] }
        return [forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")]
    }
}
