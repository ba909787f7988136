import Foundation
import Testing

/// The API side of Services on `berth serve`, driven by the real kubectl 1.32: ClusterIP and
/// NodePort allocation with the apiserver's refusals, the Endpoints and EndpointSlices the
/// controllers keep from pods' readiness, mirrored slices of user Endpoints, LoadBalancer ingress,
/// the `kubernetes` Service, and what `kubectl get` prints for them (columns as against a real
/// cluster). Serialized: every cluster's pods use the same pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeServiceAPITests {
    /// The cells of `kubectl get` output's rows (header first), split on runs of spaces.
    private func rows(_ output: String) -> [[String]] {
        output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
    }

    private func jsonpath(_ cluster: KubeCluster, _ arguments: String..., path: String) throws -> String {
        let result = try cluster.kubectl(arguments + ["-o", "jsonpath=" + (path.hasPrefix("{") ? path : "{\(path)}")])
        try #require(result.succeeded, "\(result)")
        return result.out
    }

    /// The `10.96.N.` prefix of this cluster's service CIDR, read off the `kubernetes` Service.
    private func servicePrefix(_ cluster: KubeCluster) throws -> String {
        let address = try eventually("the kubernetes Service") { () -> String? in
            let result = try cluster.kubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}")
            return result.succeeded && !result.out.isEmpty ? result.out : nil
        }
        #expect(address.hasPrefix("10.96.") && address.hasSuffix(".1"), "\(address)")
        return String(address.dropLast())
    }

    @Test func endpointsAndSlicesFollowADeploymentsReadinessScaleAndDeletion() throws {
        let cluster = try KubeCluster.withBusybox()
        let httpd = "mkdir -p /www && echo $HOSTNAME > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www"
        try cluster.apply("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 3
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "\(httpd)"]
                    ports:
                    - {name: http, containerPort: 8080}
                    readinessProbe:
                      exec: {command: ["cat", "/tmp/ready"]}
                      periodSeconds: 1
                      timeoutSeconds: 5
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              selector: {app: web}
              ports:
              - {port: 80, targetPort: http}

            """)
        let ips = try eventually("3 ready endpoints") { () -> [String]? in
            let ips = try jsonpath(cluster, "get", "endpoints", "web", path: ".subsets[*].addresses[*].ip").split(separator: " ").map(String.init)
            return ips.count == 3 ? ips.sorted { $0.compare($1, options: .numeric) == .orderedAscending } : nil
        }
        let prefix = try servicePrefix(cluster)
        let services = rows(try cluster.ok("get", "svc", "web"))
        #expect(services.first == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"])
        let row = try #require(services.dropFirst().first)
        #expect(Array(row.prefix(5)) == ["web", "ClusterIP", row[2], "<none>", "80/TCP"] && row[2].hasPrefix(prefix), "\(row)")
        let wide = rows(try cluster.ok("get", "svc", "web", "-o", "wide"))
        #expect(wide.first?.last == "SELECTOR" && wide.last?.last == "app=web", "\(wide)")
        let endpoints = rows(try cluster.ok("get", "endpoints", "web"))
        #expect(endpoints.first == ["NAME", "ENDPOINTS", "AGE"])
        #expect(endpoints.last?.dropFirst().first == ips.map { "\($0):8080" }.joined(separator: ","), "\(endpoints)")
        let slices = rows(try cluster.ok("get", "endpointslices", "-l", "kubernetes.io/service-name=web"))
        #expect(slices.first == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"])
        #expect(slices.count == 2 && slices[1][0].hasPrefix("web-") && slices[1][1] == "IPv4" && slices[1][2] == "8080", "\(slices)")
        #expect(Set(slices[1][3].split(separator: ",").map(String.init)) == Set(ips), "\(slices)")
        #expect(try jsonpath(cluster, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", path: ".items[0].metadata.ownerReferences[0].name") == "web")

        // A fourth pod that turns not-ready leaves the ready addresses for the not-ready ones.
        try cluster.apply("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: flaky
              labels: {app: web}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "touch /tmp/ready && (sleep 15 && rm /tmp/ready) & exec httpd -f -p 8080"]
                ports:
                - {name: http, containerPort: 8080}
                readinessProbe:
                  exec: {command: ["cat", "/tmp/ready"]}
                  periodSeconds: 1
                  timeoutSeconds: 5

            """)
        let flaky = try eventually("the flaky pod's address") { () -> String? in
            let ip = try jsonpath(cluster, "get", "pod", "flaky", path: ".status.podIP")
            return ip.isEmpty ? nil : ip
        }
        // Ready first, then not ready once its file is gone: in the Endpoints and in the slice,
        // which two controllers keep.
        func readiness() throws -> (endpoints: Bool?, slice: String) {
            let notReady = try jsonpath(cluster, "get", "endpoints", "web", path: ".subsets[*].notReadyAddresses[*].ip")
            let ready = try jsonpath(cluster, "get", "endpoints", "web", path: ".subsets[*].addresses[*].ip")
            let slice = try jsonpath(cluster, "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                                     path: ".items[*].endpoints[?(@.targetRef.name==\"flaky\")].conditions.ready")
            return (ready.contains(flaky) ? true : notReady.contains(flaky) ? false : nil, slice)
        }
        _ = try eventually("the flaky pod ready") { try readiness() == (true, "true") ? true : nil }
        _ = try eventually("the flaky pod not ready") { try readiness() == (false, "false") ? true : nil }

        // Scaled to 0 (and the extra pod gone), the Service has no endpoints left.
        try cluster.ok("delete", "pod", "flaky")
        try cluster.ok("scale", "deployment", "web", "--replicas=0")
        _ = try eventually("no endpoints") { () -> Bool? in
            let row = rows(try cluster.ok("get", "endpoints", "web")).last ?? []
            return row.count == 3 && row[1] == "<none>" ? true : nil
        }
        _ = try eventually("an empty slice") { () -> Bool? in
            let slices = rows(try cluster.ok("get", "endpointslices", "-l", "kubernetes.io/service-name=web"))
            return slices.count == 2 && slices[1][2] == "<unset>" && slices[1][3] == "<unset>" ? true : nil
        }

        // Deleting the Service deletes its slices and Endpoints.
        try cluster.ok("delete", "svc", "web")
        _ = try eventually("the slices gone") { () -> Bool? in
            try cluster.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "name").out.isEmpty ? true : nil
        }
        _ = try eventually("the Endpoints gone") { () -> Bool? in
            try cluster.kubectl("get", "endpoints", "web").err.contains("NotFound") ? true : nil
        }
    }

    @Test func kubectlCreateServiceAndExposeWithTheAPIServersAllocationRules() throws {
        let cluster = try KubeCluster()
        let prefix = try servicePrefix(cluster)
        #expect(try cluster.ok("create", "deployment", "api", "--image=busybox:latest", "--replicas=0", "--port=8080").contains("deployment.apps/api created"))
        #expect(try cluster.ok("expose", "deployment", "api", "--port=80", "--target-port=8080") == "service/api exposed\n")
        #expect(try jsonpath(cluster, "get", "svc", "api", path: "{.spec.selector.app} {.spec.ports[0].port} {.spec.ports[0].targetPort}") == "api 80 8080")

        #expect(try cluster.ok("create", "service", "nodeport", "np", "--tcp=80:8080") == "service/np created\n")
        let nodePort = try jsonpath(cluster, "get", "svc", "np", path: ".spec.ports[0].nodePort")
        #expect((30000...32767).contains(Int(nodePort) ?? 0), "\(nodePort)")
        #expect(rows(try cluster.ok("get", "svc", "np")).last?[4] == "80:\(nodePort)/TCP")
        let taken = try cluster.kubectl("create", "service", "nodeport", "np2", "--tcp=80", "--node-port=\(nodePort)")
        #expect(!taken.succeeded && taken.err == "error: failed to create NodePort service: Service \"np2\" is invalid: spec.ports[0].nodePort: Invalid value: \(nodePort): provided port is already allocated\n", "\(taken)")
        let outside = try cluster.kubectl("create", "service", "nodeport", "np2", "--tcp=80", "--node-port=29999")
        #expect(outside.err.contains("spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767"), "\(outside)")

        let fixed = prefix + "77"
        #expect(try cluster.ok("create", "service", "clusterip", "fixed", "--tcp=80", "--clusterip=\(fixed)") == "service/fixed created\n")
        let again = try cluster.kubectl("create", "service", "clusterip", "again", "--tcp=80", "--clusterip=\(fixed)")
        #expect(again.err == "error: failed to create ClusterIP service: Service \"again\" is invalid: spec.clusterIPs: Invalid value: []string{\"\(fixed)\"}: failed to allocate IP \(fixed): provided IP is already allocated\n", "\(again)")
        let wrong = try cluster.kubectl("create", "service", "clusterip", "again", "--tcp=80", "--clusterip=1.1.1.1")
        #expect(wrong.err.contains("failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is \(prefix)0/24"), "\(wrong)")
        let patched = try cluster.kubectl("patch", "svc", "fixed", "-p", #"{"spec":{"clusterIP":"\#(prefix)78"}}"#)
        #expect(patched.err == "The Service \"fixed\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"\(prefix)78\"}: may not change once set\n", "\(patched)")
        #expect(try cluster.ok("create", "service", "clusterip", "headless", "--clusterip=None") == "service/headless created\n")
        #expect(rows(try cluster.ok("get", "svc", "headless")).last?[2] == "None")

        // A LoadBalancer gets an ingress address, and loses it as a ClusterIP.
        try cluster.ok("create", "service", "loadbalancer", "lb", "--tcp=80:8080")
        let ingress = try eventually("the LoadBalancer's ingress") { () -> String? in
            let ip = try jsonpath(cluster, "get", "svc", "lb", path: ".status.loadBalancer.ingress[0].ip")
            return ip.isEmpty ? nil : ip
        }
        #expect(rows(try cluster.ok("get", "svc", "lb")).last?[3] == ingress)
        try cluster.ok("patch", "svc", "lb", "-p", #"{"spec":{"type":"ClusterIP"}}"#)
        #expect(try jsonpath(cluster, "get", "svc", "lb", path: "{.status.loadBalancer.ingress}{.spec.ports[0].nodePort}").isEmpty)

        // The schema is served: explain knows the fields, and apply validates against it.
        #expect(try cluster.ok("explain", "svc.spec").contains("sessionAffinity"))
        #expect(try cluster.ok("explain", "endpointslices").contains("addressType"))
        let invalid = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data("""
            apiVersion: v1
            kind: Service
            metadata: {name: typo}
            spec:
              portz: [{port: 80}]

            """.utf8)))
        #expect(!invalid.succeeded && invalid.err.contains("portz"), "\(invalid)")
    }

    @Test func selectorlessServicesGetMirroredSlicesAndTheKubernetesServiceItsEndpoints() throws {
        let cluster = try KubeCluster()
        try cluster.apply("""
            apiVersion: v1
            kind: Service
            metadata: {name: external}
            spec:
              ports: [{name: web, port: 80}]
            ---
            apiVersion: v1
            kind: Endpoints
            metadata: {name: external}
            subsets:
            - addresses: [{ip: 192.0.2.41}, {ip: 192.0.2.42}]
              ports: [{name: web, port: 8080}]

            """)
        #expect(rows(try cluster.ok("get", "endpoints", "external")).last?[1] == "192.0.2.41:8080,192.0.2.42:8080")
        let mirrored = try eventually("the mirrored slice") { () -> [String]? in
            let slices = rows(try cluster.ok("get", "endpointslices", "-l",
                                             "endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io,kubernetes.io/service-name=external"))
            return slices.count == 2 ? slices[1] : nil
        }
        #expect(mirrored[0].hasPrefix("external-") && Array(mirrored[1...3]) == ["IPv4", "8080", "192.0.2.41,192.0.2.42"], "\(mirrored)")

        let prefix = try servicePrefix(cluster)
        #expect(Array(rows(try cluster.ok("get", "svc", "kubernetes")).last?.prefix(5) ?? [])
                == ["kubernetes", "ClusterIP", prefix + "1", "<none>", "443/TCP"])
        let endpoint = try eventually("the kubernetes slice") { () -> String? in
            let text = try cluster.kubectl("get", "endpointslice", "kubernetes", "-o", "jsonpath={.endpoints[0].addresses[0]}:{.ports[0].port}")
            return text.succeeded && !text.out.isEmpty ? text.out : nil
        }
        #expect(endpoint.hasSuffix(":\(cluster.port)"), "\(endpoint)")
    }
}
