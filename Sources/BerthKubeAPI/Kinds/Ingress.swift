import BerthTemplate
import Foundation

/// networking.k8s.io/v1: the checks of Ingresses and IngressClasses, and the DefaultIngressClass
/// admission that gives a class-less Ingress the cluster's default class.
extension KubeKinds {
    static let pathTypes = ["Exact", "ImplementationSpecific", "Prefix"]
    static let defaultIngressClassAnnotation = Ingress.defaultClassAnnotation
    static let ingressClassAnnotation = Ingress.classAnnotation

    static func ingressProblems(_ object: OrderedJSON, creating: Bool) -> [Cause] {
        let spec = object["spec"] ?? .object([])
        var causes: [Cause] = []
        let rules = spec.items("rules")
        if rules.isEmpty && !spec.has("defaultBackend") {
            // The apiserver prints the Go value of the empty rules.
            let value = spec.has("rules") ? "[]networking.IngressRule{}" : "[]networking.IngressRule(nil)"
            causes.append(invalid("spec", value, "either `defaultBackend` or `rules` must be specified"))
        }
        if let backend = spec["defaultBackend"], backend != .null {
            causes += ingressBackendProblems(backend, path: "spec.defaultBackend")
        }
        for (index, rule) in rules.enumerated() {
            let path = "spec.rules[\(index)]"
            if let host = rule.string("host"), !host.isEmpty {
                if isIPv4(host) || host.contains(":") {
                    causes.append(invalid("\(path).host", quoted(host), "must be a DNS name, not an IP address"))
                }
                if let problem = host.contains("*") ? wildcardSubdomainProblem(host) : dns1123SubdomainProblem(host) {
                    causes.append(invalid("\(path).host", quoted(host), problem))
                }
            }
            guard rule.has("http") else { continue }
            let paths = rule.items("http", "paths")
            if paths.isEmpty { causes.append(required("\(path).http.paths")) }
            for (pathIndex, entry) in paths.enumerated() {
                causes += ingressPathProblems(entry, path: "\(path).http.paths[\(pathIndex)]")
            }
        }
        for (index, tls) in spec.items("tls").enumerated() {
            for (hostIndex, host) in tls.items("hosts").compactMap({ $0.string() }).enumerated() {
                if let problem = host.contains("*") ? wildcardSubdomainProblem(host) : dns1123SubdomainProblem(host) {
                    causes.append(invalid("spec.tls[\(index)].hosts[\(hostIndex)]", quoted(host), problem))
                }
            }
            if let secret = tls.string("secretName"), !secret.isEmpty, let problem = dns1123SubdomainProblem(secret) {
                causes.append(invalid("spec.tls[\(index)].secretName", quoted(secret), problem))
            }
        }
        if let className = spec.string("ingressClassName"), let problem = dns1123SubdomainProblem(className) {
            causes.append(invalid("spec.ingressClassName", quoted(className), problem))
        }
        if creating, let annotated = object.string("metadata", "annotations", ingressClassAnnotation),
           let className = spec.string("ingressClassName"), annotated != className {
            causes.append(invalid("annotations.\(ingressClassAnnotation)", quoted(annotated), "must match `ingressClassName` when both are specified"))
        }
        return causes
    }

    private static func ingressPathProblems(_ entry: OrderedJSON, path: String) -> [Cause] {
        var causes: [Cause] = []
        let text = entry.string("path") ?? ""
        switch entry.string("pathType") {
        case nil:
            return [required("\(path).pathType", "pathType must be specified")]
        case "Exact", "Prefix":
            if !text.hasPrefix("/") { causes.append(invalid("\(path).path", quoted(text), "must be an absolute path")) }
            for sequence in ["//", "/./", "/../", "%2f", "%2F"] where text.contains(sequence) {
                causes.append(invalid("\(path).path", quoted(text), "must not contain '\(sequence)'"))
            }
            for suffix in ["/..", "/."] where text.hasSuffix(suffix) {
                causes.append(invalid("\(path).path", quoted(text), "cannot end with '\(suffix)'"))
            }
        case "ImplementationSpecific":
            if !text.isEmpty, !text.hasPrefix("/") { causes.append(invalid("\(path).path", quoted(text), "must be an absolute path")) }
        case let other?:
            causes.append(unsupported("\(path).pathType", other, pathTypes))
        }
        return causes + ingressBackendProblems(entry["backend"] ?? .object([]), path: "\(path).backend")
    }

    private static func ingressBackendProblems(_ backend: OrderedJSON, path: String) -> [Cause] {
        switch (backend.has("service"), backend.has("resource")) {
        case (true, true):
            return [invalid(path, "\"\"", "cannot set both resource and service backends")]
        case (false, true):
            var causes: [Cause] = []
            if (backend.string("resource", "kind") ?? "").isEmpty { causes.append(required("\(path).resource.kind")) }
            if (backend.string("resource", "name") ?? "").isEmpty { causes.append(required("\(path).resource.name")) }
            return causes
        case (false, false):
            return [invalid(path, "\"\"", "resource or service backend is required")]
        case (true, false):
            break
        }
        var causes: [Cause] = []
        let name = backend.string("service", "name") ?? ""
        if name.isEmpty {
            causes.append(required("\(path).service.name"))
        } else if let problem = dns1035LabelProblem(name) {
            causes.append(invalid("\(path).service.name", quoted(name), problem))
        }
        let portName = backend.string("service", "port", "name") ?? ""
        let portNumber = backend.value(at: ["service", "port", "number"])?.int ?? 0
        if !portName.isEmpty, portNumber != 0 {
            causes.append(invalid(path, "\"\"", "cannot set both port name & port number"))
        } else if !portName.isEmpty {
            causes += portNameProblems(portName).map { invalid("\(path).service.port.name", quoted(portName), $0) }
        } else if portNumber != 0 {
            if !(1...65535).contains(portNumber) {
                causes.append(invalid("\(path).service.port.number", String(portNumber), "must be between 1 and 65535, inclusive"))
            }
        } else {
            causes.append(required(path, "port name or number is required"))
        }
        return causes
    }

    static func ingressClassProblems(_ object: OrderedJSON) -> [Cause] {
        var causes: [Cause] = []
        let controller = object.string("spec", "controller") ?? ""
        if controller.isEmpty {
            causes.append(required("spec.controller"))
        } else if controller.count > 250 {
            causes.append(Cause(reason: "FieldValueTooLong", message: "Too long: may not be more than 250 bytes", field: "spec.controller"))
        } else if !isDomainPrefixedPath(controller) {
            causes.append(invalid("spec.controller", quoted(controller), "must be a domain-prefixed path (such as \"acme.io/foo\")"))
        }
        if let parameters = object.value(at: ["spec", "parameters"]), parameters != .null {
            if (parameters.string("kind") ?? "").isEmpty { causes.append(required("spec.parameters.kind")) }
            if (parameters.string("name") ?? "").isEmpty { causes.append(required("spec.parameters.name")) }
            if let scope = parameters.string("scope"), !["Cluster", "Namespace"].contains(scope) {
                causes.append(unsupported("spec.parameters.scope", scope, ["Cluster", "Namespace"]))
            } else if parameters.string("scope") == "Namespace", !parameters.has("namespace") {
                causes.append(required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'"))
            } else if parameters.string("scope") == "Cluster", parameters.has("namespace") {
                causes.append(forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'"))
            }
        }
        return causes
    }

    /// An IngressClass's controller never changes.
    static func ingressClassUpdateProblems(_ object: OrderedJSON, old: OrderedJSON) -> [Cause] {
        let controller = object.string("spec", "controller") ?? ""
        guard controller != (old.string("spec", "controller") ?? "") else { return [] }
        return [invalid("spec.controller", quoted(controller), "field is immutable")]
    }

    /// Why `host` is not `*.` followed by a DNS-1123 subdomain, or nil.
    static func wildcardSubdomainProblem(_ host: String) -> String? {
        if host.count > 253 { return "must be no more than 253 characters" }
        guard host.hasPrefix("*."), dns1123SubdomainProblem(String(host.dropFirst(2))) == nil else {
            return "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        }
        return nil
    }

    /// `domain/path`, as IngressClass controllers are named (`berth.dev/ingress`).
    private static func isDomainPrefixedPath(_ text: String) -> Bool {
        guard let slash = text.firstIndex(of: "/") else { return false }
        return dns1123SubdomainProblem(String(text[..<slash])) == nil && text.index(after: slash) < text.endIndex
    }

}

extension Ingress {
    /// The annotation marking an IngressClass as the cluster's default.
    public static let defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
    /// The annotation older Ingresses name their class with (before `spec.ingressClassName`).
    public static let classAnnotation = "kubernetes.io/ingress.class"
}

extension KubeObjectStore {
    /// The DefaultIngressClass admission: an Ingress created without a class (field or annotation)
    /// gets the default IngressClass (the newest one, when several claim to be the default).
    func withDefaultIngressClass(_ object: OrderedJSON) -> OrderedJSON {
        guard object.string("spec", "ingressClassName") == nil,
              object.string("metadata", "annotations", KubeKinds.ingressClassAnnotation) == nil,
              let classes = try? list(KubeResourceRegistry.ingressClasses, namespace: nil).items else { return object }
        let defaults = classes.filter { $0.string("metadata", "annotations", KubeKinds.defaultIngressClassAnnotation) == "true" }
        guard let chosen = defaults.max(by: { ($0.string("metadata", "creationTimestamp") ?? "") < ($1.string("metadata", "creationTimestamp") ?? "") }),
              let name = chosen.string("metadata", "name") else { return object }
        return object.setting(["spec", "ingressClassName"], to: .string(name))
    }
}
