import BerthFiles
import Foundation

/// Name resolution on a user-defined network: a dnsmasq bound to the network's gateway address
/// answers with the attached containers' addresses (name, short ID, aliases) and forwards every
/// other query to the host's resolvers, as Podman's dnsname plugin does. Containers on the
/// network get the gateway as their name server.
///
/// State under `<root>/network/dns/<cniName>/`: `entries/<containerID>` (one hosts line per
/// attached container), `hosts` (their concatenation, read by dnsmasq), `dnsmasq.pid` and
/// `dnsmasq.log`. dnsmasq runs while at least one container is attached, and re-reads `hosts` on
/// SIGHUP. Callers hold the network state lock.
struct NetworkDNS {
    let network: BridgeNetwork
    let directory: String

    init(root: String, network: BridgeNetwork) {
        self.network = network
        directory = StateRoot(root).networkDNS(network.cniName)
    }

    private var entriesDirectory: String { "\(directory)/entries" }
    private var hostsPath: String { "\(directory)/hosts" }
    private var pidPath: String { "\(directory)/dnsmasq.pid" }
    private var logPath: String { "\(directory)/dnsmasq.log" }

    /// Adds the container's names, then starts the server or has it re-read its hosts file.
    func register(containerID: String, address: String, names: [String]) throws {
        try makeDirectory(entriesDirectory)
        let line = ([address] + names).joined(separator: "\t") + "\n"
        try StateFile.write(Data(line.utf8), to: "\(entriesDirectory)/\(containerID)", mode: 0o644, synced: false)
        try reload()
    }

    /// Removes the container's names; stops the server when no container is left.
    func unregister(containerID: String) throws {
        let path = "\(entriesDirectory)/\(containerID)"
        guard FileManager.default.fileExists(atPath: path) else { return }
        if unlink(path) != 0, errno != ENOENT {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
        try reload()
    }

    /// Stops the server and removes the network's DNS state (network removal).
    func remove() throws {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - dnsmasq

    private func reload() throws {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: entriesDirectory)) ?? []
        // A dot file is an entry being written (`AtomicFile`'s temporary file).
        let lines = entries.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            FileManager.default.contents(atPath: "\(entriesDirectory)/\(name)").map { String(decoding: $0, as: UTF8.self) }
        }
        guard !lines.isEmpty else {
            stop()
            return
        }
        try StateFile.write(Data(lines.joined().utf8), to: hostsPath, mode: 0o644, synced: false)
        if let pid = runningPID() {
            kill(pid, SIGHUP)
        } else {
            try start()
        }
    }

    /// dnsmasq daemonizes once it listens, so its exit status says whether it could: 2 is an
    /// address it cannot bind (another server on port 53 of the gateway).
    private func start() throws {
        let dnsmasq: String
        do {
            dnsmasq = try Command.locate("dnsmasq")
        } catch {
            throw NetworkError.dnsServerFailed(network: network.name,
                                               message: "dnsmasq not found; install dnsmasq-base")
        }
        unlink(pidPath)
        let arguments = [
            "--conf-file=/dev/null", "--pid-file=\(pidPath)", "--log-facility=\(logPath)",
            "--listen-address=\(network.gateway)", "--bind-interfaces", "--except-interface=lo",
            "--no-hosts", "--addn-hosts=\(hostsPath)",
            // Single-label names are containers or nothing: never ask the upstream servers.
            "--domain-needed", "--user=root", "--group=root",
        ]
        let status = try Command.run(dnsmasq, arguments, outputFile: logPath)
        guard status == 0 else {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            let message = log.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            throw NetworkError.dnsServerFailed(network: network.name, message: message)
        }
    }

    private func stop() {
        guard let pid = runningPID() else { return }
        kill(pid, SIGTERM)
        // dnsmasq must have released the gateway's port 53 before a new one may bind it. Its
        // parent may be a monitor that reaps it later: a zombie no longer counts as running.
        for _ in 0..<200 where runningPID() == pid { usleep(5_000) }
        unlink(pidPath)
    }

    /// The pid in the pid file, if that process is still this network's dnsmasq (after a reboot
    /// the number may belong to another process).
    private func runningPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return nil }
        return String(decoding: commandLine, as: UTF8.self).contains("--pid-file=\(pidPath)") ? pid : nil
    }

    private func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw NetworkError.io(path: path, reason: "\(error)")
        }
    }
}
