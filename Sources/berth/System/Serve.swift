import ArgumentParser
import BerthEngine
import BerthEngineAPI
import BerthFiles
import BerthKube
import BerthKubeAPI
import BerthKubeControllers
import BerthKubeDNS
import BerthKubeIngress
import BerthKubelet
import BerthKubeProxy
import Foundation
import NIOCore

/// `berth serve`: the Docker Engine API on a Unix socket (and, with client certificates, TCP),
/// and the Kubernetes API on https://127.0.0.1:6443, in the foreground, over the same state the CLI uses.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the Docker Engine API (docker, docker-py and Compose drive Berth through it).")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("H"), .long], help: ArgumentHelp(
        "Address to listen on: unix:///path or tcp://host:port (TCP needs --tlsverify).", valueName: "address"))
    var host: [String] = []

    @Option(help: ArgumentHelp("File holding the daemon's process ID.", valueName: "file"))
    var pidfile = "/run/berth/berth.pid"

    @Option(help: ArgumentHelp("Group owning the Unix socket, when it exists.", valueName: "group"))
    var group = "berth"

    @Flag(help: "Require TLS and a client certificate signed by --tlscacert on TCP addresses.")
    var tlsverify = false

    @Option(help: ArgumentHelp("Trust client certificates signed by this CA only.", valueName: "file"))
    var tlscacert: String?

    @Option(help: ArgumentHelp("The server's TLS certificate.", valueName: "file"))
    var tlscert: String?

    @Option(help: ArgumentHelp("The server's TLS key.", valueName: "file"))
    var tlskey: String?

    @Option(name: .customLong("kube-port"), help: ArgumentHelp(
        "Port of the Kubernetes API on 127.0.0.1 (0: do not serve it). `berth kube config` prints a kubeconfig for it.", valueName: "port"))
    var kubePort = 6443

    @Option(name: .customLong("ingress-http-port"), help: ArgumentHelp(
        "Port Ingresses are served on over HTTP (0: none).", valueName: "port"))
    var ingressHTTPPort = 80

    @Option(name: .customLong("ingress-https-port"), help: ArgumentHelp(
        "Port Ingresses are served on over HTTPS, with the certificates of their TLS Secrets (0: none).", valueName: "port"))
    var ingressHTTPSPort = 443

    func run() async throws {
        let listeners = try (host.isEmpty ? ["unix:///run/berth/docker.sock"] : host).map(listener)
        let engine = try Engine(root: global.root, monitorExecutable: GlobalOptions.monitorExecutable())
        let pidFile = try PidFile(path: pidfile)
        defer { pidFile.remove() }
        let server = APIServer(engine: engine)
        var proxy: KubeProxy?
        var ingress: IngressController?
        // The Kubernetes API first: once the Engine API answers, both do.
        if kubePort != 0 {
            let root = StateRoot(global.root)
            let pki = KubePKI(directory: root.kubePKI)
            try pki.ensure()
            let claim = try KubeClusterNetworkClaim.claim(kubeDirectory: root.kube) { Kubelet.podSubnetIsFree($0, engine: engine) }
            let store = try KubeObjectStore(path: root.kubeDatabase, clusterNetwork: claim.network)
            let host = ProcessInfo.processInfo.hostName
            // The node is named after the host, as the kubelet's default.
            let serviceProxy = KubeProxy(store: store)
            proxy = serviceProxy
            let kubelet = Kubelet(store: store, engine: engine, nodeName: host, trafficGate: serviceProxy)
            let kube = try KubeServer(router: KubeRouter(store: store, serverAddress: "127.0.0.1:\(kubePort)", podLogs: kubelet, podStreams: kubelet,
                                                         portForwarder: kubelet, metrics: kubelet),
                                      pki: pki)
            try await kube.start(host: "127.0.0.1", port: kubePort)
            try AtomicFile.write(Array("\(kubePort)\n".utf8), to: root.kubeAPIPort, durability: .atomicOnly)
            Task { await KubeControllerManager(store: store, host: host, apiPort: kubePort).run() }
            Task { await kubelet.run() }
            Task { await serviceProxy.run() }
            Task { await KubeDNSService.run(store: store) }
            if ingressHTTPPort != 0 || ingressHTTPSPort != 0 {
                let controller = IngressController(store: store, host: host, directory: root.kubeIngress,
                                                   httpPort: ingressHTTPPort, httpsPort: ingressHTTPSPort)
                Task { await controller.run() }
                ingress = controller
            }
            printError("berth serve: Kubernetes API listening on https://127.0.0.1:\(kubePort)")
        }
        let channels = try await server.bind(listeners)
        for signalNumber in [SIGTERM, SIGINT] { signal(signalNumber, SIG_IGN) }
        let (stop, stopping) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopping.yield(number) }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        printError("berth serve: API listening on \(host.isEmpty ? "unix:///run/berth/docker.sock" : host.joined(separator: ", "))")
        for await _ in stop { break }
        for channel in channels { try? await channel.close() }
        ingress?.shutdown()
        do {
            try await proxy?.stop()
        } catch {
            printError("berth serve: kube-proxy: cannot remove the Service rules: \(error)")
        }
    }

    private func listener(_ address: String) throws -> APIServer.Listener {
        if address.hasPrefix("unix://") {
            return .unix(path: String(address.dropFirst("unix://".count)), group: group)
        }
        guard address.hasPrefix("tcp://") else {
            throw ValidationError("unsupported address \(address): use unix:///path or tcp://host:port")
        }
        guard tlsverify, let tlscacert, let tlscert, let tlskey else {
            throw ValidationError("refusing to listen on \(address) without --tlsverify, --tlscacert, --tlscert and --tlskey: anyone who reaches a TCP socket without client certificates controls this host")
        }
        let hostPort = address.dropFirst("tcp://".count)
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else {
            throw ValidationError("invalid address \(address): expected tcp://host:port")
        }
        return .tcp(host: String(hostPort[..<colon]), port: port,
                    tls: try APIServer.tlsConfiguration(caCertificate: tlscacert, certificate: tlscert, key: tlskey))
    }
}

/// The daemon's pid file, held with a lock so a second daemon on the same file refuses to start.
struct PidFile {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ValidationError("cannot open pid file \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw ValidationError("another berth serve is running with pid file \(path)")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { [descriptor] in pwrite(descriptor, $0, strlen($0), 0) }
    }

    func remove() {
        unlink(path)
        close(descriptor)
    }
}
