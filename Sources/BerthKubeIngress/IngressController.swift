import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

/// Serves the cluster's Ingresses on the host's ports: the `berth` IngressClass (the default),
/// and an nginx driven by a configuration generated from every Ingress of that class (or of no
/// class). Backends are Service ports reached at their ClusterIP: the service proxy's kernel rules
/// spread the connections, so readiness and the drain before a pod's SIGTERM apply to Ingress
/// traffic as to any other.
public final class IngressController: KubeReconciler, Sendable {
    public static let className = "berth"
    public static let controllerName = "berth.dev/ingress"

    private let store: KubeObjectStore
    private let host: String
    private let configuration: NginxConfiguration
    private let nginx: NginxProcess
    private let recorder: KubeEventRecorder
    /// The spec each Ingress was last synced with (by uid), so an unchanged Ingress gets no new event.
    private let synced = Mutex<[String: String]>([:])
    /// Everything is one configuration: every change reconciles this one key.
    private static let key = KubeObjectKey(namespace: "", name: "ingress")

    public let name = "ingress-controller"

    /// `directory` holds nginx's configuration, pid file, logs and certificates while any Ingress
    /// is served; ports of 0 are not listened on.
    public init(store: KubeObjectStore, host: String, directory: String, httpPort: Int, httpsPort: Int) {
        self.store = store
        self.host = host
        configuration = NginxConfiguration(directory: directory, httpPort: httpPort, httpsPort: httpsPort)
        nginx = NginxProcess(configuration: configuration)
        recorder = KubeEventRecorder(store: store, component: "berth-ingress", host: host)
    }

    public var triggers: [KubeTrigger] {
        [KubeResourceRegistry.ingresses, KubeResourceRegistry.ingressClasses, KubeResourceRegistry.services,
         KubeResourceRegistry.endpointSlices, KubeResourceRegistry.secrets].map { resource in
            KubeTrigger(resource: resource) { _ in [Self.key] }
        }
    }

    /// Runs until the task is cancelled (an nginx from a daemon killed earlier is taken over).
    public func run() async {
        await KubeReconcileLoop(store: store).run(self, workers: 1)
    }

    /// Stops nginx (a graceful `berth serve` shutdown); its files stay for the next start.
    public func shutdown() {
        nginx.stop()
    }

    public func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        try ensureIngressClass()
        let served = try store.list(KubeResourceRegistry.ingresses, namespace: nil).items.filter(isServed)
        guard !served.isEmpty else {
            nginx.stop()
            try? FileManager.default.removeItem(atPath: configuration.directory)
            synced.withLock { $0.removeAll() }
            return nil
        }
        let ingresses = served.compactMap { try? $0.decode(Ingress.self) }
        var secrets: [IngressPlan.Certificate: (certificate: Data, key: Data)] = [:]
        let plan = IngressPlan(ingresses: ingresses) { certificate in
            if let pair = tlsPair(certificate) {
                secrets[certificate] = pair
                return true
            }
            return false
        }
        try writeCertificates(secrets)
        var endpoints: [IngressPlan.Backend: [String]] = [:]
        for backend in plan.backends { endpoints[backend] = try self.endpoints(backend) }
        try nginx.apply(configuration.render(plan, endpoints: endpoints))
        try publish(served, plan: plan)
        return nil
    }

    /// Ingresses of the `berth` class; one without a class only when no annotation names another.
    private func isServed(_ ingress: OrderedJSON) -> Bool {
        guard ingress.value(at: ["metadata", "deletionTimestamp"]) == nil else { return false }
        if let className = ingress.string("spec", "ingressClassName") { return className == Self.className }
        let annotated = ingress.string("metadata", "annotations", Ingress.classAnnotation)
        return annotated == nil || annotated == Self.className
    }

    private func ensureIngressClass() throws {
        if (try? store.get(KubeResourceRegistry.ingressClasses, namespace: nil, name: Self.className)) != nil { return }
        do {
            _ = try store.create(KubeResourceRegistry.ingressClasses, namespace: nil, object: .object([
                ("apiVersion", .string("networking.k8s.io/v1")), ("kind", .string("IngressClass")),
                ("metadata", .object([("name", .string(Self.className)),
                                      ("annotations", .object([(Ingress.defaultClassAnnotation, .string("true"))]))])),
                ("spec", .object([("controller", .string(Self.controllerName))])),
            ]))
        } catch let error as KubeAPIError where error.code == 409 {}
    }

    /// The certificate and key of a kubernetes.io/tls Secret, or nil when there is none.
    private func tlsPair(_ certificate: IngressPlan.Certificate) -> (certificate: Data, key: Data)? {
        guard let secret = try? store.get(KubeResourceRegistry.secrets, namespace: certificate.namespace, name: certificate.secret),
              let crt = secret.string("data", "tls.crt").flatMap({ Data(base64Encoded: $0) }), !crt.isEmpty,
              let key = secret.string("data", "tls.key").flatMap({ Data(base64Encoded: $0) }), !key.isEmpty else { return nil }
        return (crt, key)
    }

    /// Writes each certificate and key readable by root only, and removes those no longer used.
    private func writeCertificates(_ secrets: [IngressPlan.Certificate: (certificate: Data, key: Data)]) throws {
        let directory = configuration.certificateDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var wanted: Set<String> = []
        for (certificate, pair) in secrets {
            let paths = configuration.certificatePath(certificate)
            for (path, data) in [(paths.certificate, pair.certificate), (paths.key, pair.key)] {
                wanted.insert((path as NSString).lastPathComponent)
                try Self.writePrivate(data, to: path)
            }
        }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !wanted.contains(file) {
            unlink("\(directory)/\(file)")
        }
    }

    private static func writePrivate(_ data: Data, to path: String) throws {
        if (try? Data(contentsOf: URL(fileURLWithPath: path))) == data { return }
        let temporary = path + ".next"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw NginxProcess.Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fchmod(descriptor, 0o600)
        close(descriptor)
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw NginxProcess.Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The backend's `clusterIP:port`, where the service proxy spreads connections over the ready
    /// endpoints in the kernel; none (503) when the Service, its port or its ClusterIP (headless)
    /// is missing, or no endpoint is ready.
    private func endpoints(_ backend: IngressPlan.Backend) throws -> [String] {
        guard let serviceObject = try? store.get(KubeResourceRegistry.services, namespace: backend.namespace, name: backend.service),
              let service = try? serviceObject.decode(Service.self),
              let clusterIP = service.spec.clusterIP, !clusterIP.isEmpty, !service.spec.isHeadless,
              let port = service.spec.ports?.first(where: { Self.names($0, backend.port) }) else { return [] }
        let slices = try store.list(KubeResourceRegistry.endpointSlices, namespace: backend.namespace).items
            .filter { $0.string("metadata", "labels", EndpointSlice.serviceNameLabel) == backend.service }
            .compactMap { try? $0.decode(EndpointSlice.self) }
        let ready = slices.contains { slice in
            slice.ports?.contains { ($0.name ?? "") == (port.name ?? "") } ?? false
                && (slice.endpoints ?? []).contains { $0.conditions?.ready != false }
        }
        return ready ? ["\(clusterIP):\(port.port)"] : []
    }

    /// Whether an Ingress's port reference (a number or a name) names this Service port.
    private static func names(_ port: ServicePort, _ reference: String) -> Bool {
        if let number = Int(reference) { return port.port == number }
        return port.name == reference
    }

    /// Each served Ingress gets the node's address in its status (what ADDRESS shows), a Sync event
    /// when its spec changed, and a Warning for each TLS host whose Secret is missing.
    private func publish(_ served: [OrderedJSON], plan: IngressPlan) throws {
        let address = nodeAddress()
        for ingress in served {
            let key = KubeObjectKey(ingress)
            let uid = ingress.string("metadata", "uid") ?? ""
            let spec = ingress["spec"]?.compact ?? ""
            if synced.withLock({ $0.updateValue(spec, forKey: uid) }) != spec {
                recorder.record(ingress, .normal, reason: "Sync", message: "Scheduled for sync")
                for missing in plan.missingCertificates where missing.ingress == key {
                    recorder.record(ingress, .warning, reason: "MissingSecret",
                                    message: "secret \"\(missing.certificate.namespace)/\(missing.certificate.secret)\" is missing or not a TLS secret: host \"\(missing.host)\" is served without TLS")
                }
            }
            guard let address else { continue }
            let status = ingress["status"] ?? .object([])
            let wanted = status.setting(["loadBalancer"], to: .object([("ingress", .array([.object([("ip", .string(address))])]))]))
            guard ingress["status"] != wanted else { continue }
            _ = try store.replace(KubeResourceRegistry.ingresses, namespace: key.namespace, name: key.name,
                                  object: ingress.setting(["status"], to: wanted), scope: .status)
        }
        synced.withLock { known in
            let live = Set(served.compactMap { $0.string("metadata", "uid") })
            known = known.filter { live.contains($0.key) }
        }
    }

    /// The node's InternalIP, as k3s gives Ingresses the node's address.
    private func nodeAddress() -> String? {
        guard let node = try? store.get(KubeResourceRegistry.nodes, namespace: nil, name: host) else { return nil }
        guard case .array(let addresses)? = node.value(at: ["status", "addresses"]) else { return nil }
        return addresses.first { $0.string("type") == "InternalIP" }?.string("address")
    }
}
