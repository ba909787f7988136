/// Typed views of the networking kinds: core/v1 Service and Endpoints, discovery.k8s.io/v1
/// EndpointSlice and networking.k8s.io/v1 Ingress (see TypedObjects.swift for how views are used).

public struct Service: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    public var status: ServiceStatus?
}

public struct ServiceSpec: Codable, Sendable, Equatable {
    /// ClusterIP (the default), NodePort, LoadBalancer or ExternalName.
    public var type: String?
    /// Nil or empty: the Service selects no pods, and its Endpoints are the user's.
    public var selector: [String: String]?
    public var ports: [ServicePort]?
    /// An address from the service CIDR, or "None" for a headless Service.
    public var clusterIP: String?
    public var clusterIPs: [String]?
    /// None (the default) or ClientIP.
    public var sessionAffinity: String?
    public var sessionAffinityConfig: SessionAffinityConfig?
    public var externalIPs: [String]?
    public var externalName: String?
    /// Cluster (the default) or Local.
    public var externalTrafficPolicy: String?
    public var internalTrafficPolicy: String?
    /// Headless Services: whether DNS also publishes pods that are not ready.
    public var publishNotReadyAddresses: Bool?
    public var loadBalancerIP: String?
    public var allocateLoadBalancerNodePorts: Bool?

    /// Whether the Service is headless (`clusterIP: None`): DNS only, no virtual IP.
    public var isHeadless: Bool { clusterIP == "None" }
}

public struct ServicePort: Codable, Sendable, Equatable {
    public var name: String?
    /// TCP (the default), UDP or SCTP.
    public var `protocol`: String?
    public var port: Int
    /// A number, or the name of a container port; defaults to `port`.
    public var targetPort: IntOrString?
    public var nodePort: Int?
    public var appProtocol: String?
}

public struct SessionAffinityConfig: Codable, Sendable, Equatable {
    public struct ClientIP: Codable, Sendable, Equatable {
        /// How long a client sticks to its endpoint (default 10800 s).
        public var timeoutSeconds: Int?
    }

    public var clientIP: ClientIP?
}

public struct ServiceStatus: Codable, Sendable, Equatable {
    public struct LoadBalancer: Codable, Sendable, Equatable {
        public var ingress: [LoadBalancerIngress]?

        public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
    }

    public var loadBalancer: LoadBalancer?

    public init(loadBalancer: LoadBalancer? = nil) { self.loadBalancer = loadBalancer }
}

public struct LoadBalancerIngress: Codable, Sendable, Equatable {
    public var ip: String?
    public var hostname: String?
    /// VIP (kube-proxy also routes the address inside the cluster) or Proxy.
    public var ipMode: String?

    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
    }
}

/// core/v1 Endpoints: the endpoints controller writes them for Services with a selector; the
/// user writes them for Services without one.
public struct Endpoints: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]?
}

public struct EndpointSubset: Codable, Sendable, Equatable {
    public var addresses: [EndpointAddress]?
    public var notReadyAddresses: [EndpointAddress]?
    public var ports: [EndpointPort]?

    public init(addresses: [EndpointAddress]? = nil, notReadyAddresses: [EndpointAddress]? = nil, ports: [EndpointPort]? = nil) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

public struct EndpointAddress: Codable, Sendable, Equatable {
    public var ip: String
    public var hostname: String?
    public var nodeName: String?
    public var targetRef: ObjectReference?

    public init(ip: String, hostname: String? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

/// A port of Endpoints and of EndpointSlices (the same shape in both).
public struct EndpointPort: Codable, Sendable, Equatable {
    public var name: String?
    public var port: Int?
    public var `protocol`: String?
    public var appProtocol: String?

    public init(name: String? = nil, port: Int?, protocol: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}

/// A reference to an object (`targetRef` of an endpoint: the pod behind it).
public struct ObjectReference: Codable, Sendable, Equatable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var apiVersion: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}

/// discovery.k8s.io/v1 EndpointSlice: what the proxy and the DNS read. The controller labels
/// each slice `kubernetes.io/service-name: <service>`.
public struct EndpointSlice: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    /// IPv4 (the only family Berth's pods have), IPv6 or FQDN.
    public var addressType: String
    public var endpoints: [Endpoint]?
    public var ports: [EndpointPort]?

    /// The label naming the Service a slice belongs to.
    public static let serviceNameLabel = "kubernetes.io/service-name"
    /// The label naming who manages a slice (the controller's is `endpointslice-controller.k8s.io`).
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
}

public struct Endpoint: Codable, Sendable, Equatable {
    public struct Conditions: Codable, Sendable, Equatable {
        /// Ready to receive traffic (and, for a terminating pod, false).
        public var ready: Bool?
        /// Ready, even while terminating (the proxy may fall back to such endpoints).
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    public var addresses: [String]
    public var conditions: Conditions?
    public var hostname: String?
    public var nodeName: String?
    public var targetRef: ObjectReference?

    public init(addresses: [String], conditions: Conditions? = nil, hostname: String? = nil, nodeName: String? = nil,
                targetRef: ObjectReference? = nil) {
        self.addresses = addresses
        self.conditions = conditions
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

/// networking.k8s.io/v1 Ingress.
public struct Ingress: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: IngressSpec?
}

public struct IngressSpec: Codable, Sendable, Equatable {
    public var ingressClassName: String?
    public var defaultBackend: IngressBackend?
    public var tls: [IngressTLS]?
    public var rules: [IngressRule]?
}

public struct IngressTLS: Codable, Sendable, Equatable {
    public var hosts: [String]?
    /// A kubernetes.io/tls Secret in the Ingress's namespace (`tls.crt`, `tls.key`).
    public var secretName: String?
}

public struct IngressRule: Codable, Sendable, Equatable {
    public struct HTTP: Codable, Sendable, Equatable {
        public var paths: [IngressPath]
    }

    /// A host name, possibly with a leading `*.` wildcard; nil matches every host.
    public var host: String?
    public var http: HTTP?
}

public struct IngressPath: Codable, Sendable, Equatable {
    public var path: String?
    /// Exact, Prefix or ImplementationSpecific.
    public var pathType: String
    public var backend: IngressBackend
}

public struct IngressBackend: Codable, Sendable, Equatable {
    public struct ServiceBackend: Codable, Sendable, Equatable {
        public struct Port: Codable, Sendable, Equatable {
            public var number: Int?
            public var name: String?
        }

        public var name: String
        public var port: Port?
    }

    public var service: ServiceBackend?
}
