import BerthTemplate
import Foundation
import Testing

/// `berth inspect` prints what `docker inspect` prints: for the same kind of object made the same
/// way, the documents must have the same keys, in the same order, with values of the same JSON
/// types, at every depth. Only values may differ (IDs, times, addresses, paths). Keys that are
/// themselves values (container IDs under a network's Containers) are compared by position.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct InspectParityTests {
    /// Every difference in shape between two documents, as `path: what` lines.
    static func shapeDifferences(_ mine: OrderedJSON, _ theirs: OrderedJSON, path: String = "",
                                 valueKeys: Set<String> = []) -> [String] {
        func type(_ value: OrderedJSON) -> String {
            switch value {
            case .null: "null"
            case .bool: "bool"
            case .number: "number"
            case .string: "string"
            case .array: "array"
            case .object: "object"
            }
        }
        switch (mine, theirs) {
        case (.object(let a), .object(let b)):
            if valueKeys.contains(path) {
                guard a.count == b.count else { return ["\(path): \(a.count) members, docker has \(b.count)"] }
                return zip(a, b).flatMap { shapeDifferences($0.1, $1.1, path: path + ".*", valueKeys: valueKeys) }
            }
            let (keysA, keysB) = (a.map(\.0), b.map(\.0))
            if keysA != keysB { return ["\(path): keys \(keysA)\n   docker has \(keysB)"] }
            return zip(a, b).flatMap { shapeDifferences($0.1, $1.1, path: path + "." + $0.0, valueKeys: valueKeys) }
        case (.array(let a), .array(let b)):
            // Lists differ in length by value (more mounts, more layers): their elements' shape counts.
            return zip(a.prefix(1), b.prefix(1)).flatMap { shapeDifferences($0, $1, path: path + "[]", valueKeys: valueKeys) }
        default:
            return type(mine) == type(theirs) ? [] : ["\(path): \(type(mine)), docker has \(type(theirs))"]
        }
    }

    /// The one document `inspect` printed.
    private func document(_ output: String) throws -> OrderedJSON {
        let parsed = try OrderedJSON.parse(Array(output.utf8))
        guard case .array(let documents) = parsed, documents.count == 1 else {
            Issue.record("expected one document: \(output)")
            return .null
        }
        return documents[0]
    }

    private func compare(_ sandbox: BerthSandbox, _ berth: [String], _ docker: [String], valueKeys: Set<String> = [],
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let mine = try document(sandbox.ok(berth))
        let theirs = try document(PeerDocker.checked(docker))
        let differences = Self.shapeDifferences(mine, theirs, valueKeys: valueKeys)
        #expect(differences.isEmpty, "\(berth.joined(separator: " ")):\n\(differences.joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }

    private func both(_ sandbox: BerthSandbox, _ arguments: [String]) throws {
        try sandbox.ok(arguments)
        try PeerDocker.checked(arguments)
    }

    @Test func comparisonSeesKeysOrderAndTypes() throws {
        let base = try OrderedJSON.parse(Array(#"{"A":1,"B":{"C":[{"D":"x"}]}}"#.utf8))
        #expect(Self.shapeDifferences(base, try OrderedJSON.parse(Array(#"{"A":2,"B":{"C":[]}}"#.utf8))).isEmpty)
        #expect(!Self.shapeDifferences(base, try OrderedJSON.parse(Array(#"{"B":{"C":[]},"A":1}"#.utf8))).isEmpty)
        #expect(!Self.shapeDifferences(base, try OrderedJSON.parse(Array(#"{"A":"1","B":{"C":[]}}"#.utf8))).isEmpty)
        #expect(!Self.shapeDifferences(base, try OrderedJSON.parse(Array(#"{"A":1,"B":{"C":[{"D":null}]}}"#.utf8))).isEmpty)
        #expect(!Self.shapeDifferences(base, try OrderedJSON.parse(Array(#"{"A":1}"#.utf8))).isEmpty)
    }

    @Test func containersCreatedAndRunningHaveDockersShape() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let names = ["h14-parity-created", "h14-parity-running", "h14-parity-flags"]
        for name in names { _ = try? PeerDocker.docker("rm", "-f", "-v", name) }
        defer { for name in names { _ = try? PeerDocker.docker("rm", "-f", "-v", name) } }

        try both(sandbox, ["create", "--name", names[0], "busybox", "true"])
        try compare(sandbox, ["inspect", names[0]], ["inspect", names[0]])

        try both(sandbox, ["run", "-d", "--name", names[1], "busybox", "sleep", "300"])
        try compare(sandbox, ["inspect", names[1]], ["inspect", names[1]])
        // --size adds SizeRw and SizeRootFs, where dockerd puts them.
        try compare(sandbox, ["inspect", "--size", names[1]], ["inspect", "--size", names[1]])
        try compare(sandbox, ["container", "inspect", "-s", names[1]], ["container", "inspect", "-s", names[1]])

        // Every optional member present: the flags' fields, mounts, health check, ports, init.
        try both(sandbox, ["run", "-d", "--name", names[2], "--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9",
                           "--dns-search", "example.com", "--dns-option", "ndots:2", "--ulimit", "nofile=1000:2000",
                           "--device", "/dev/kmsg:/dev/mykmsg:r", "--shm-size", "128m", "--sysctl", "net.ipv4.ip_forward=0",
                           "--ipc", "shareable", "--expose", "7000", "--memory", "64m", "--memory-reservation", "32m",
                           "--cpu-shares", "512", "--cpu-quota", "50000", "--cpuset-cpus", "0", "--oom-score-adj", "100",
                           "--domainname", "example.org", "-l", "a=b", "--tmpfs", "/t", "--mount", "type=volume,target=/v",
                           "-v", "/anonymous", "--init", "--stop-signal", "SIGUSR1", "-e", "A=1", "--health-cmd", "true",
                           "-p", "127.0.0.1::80", "--restart", "on-failure:2", "--cap-add", "NET_ADMIN", "--read-only",
                           "busybox", "sleep", "300"])
        try compare(sandbox, ["inspect", names[2]], ["inspect", names[2]])
    }

    @Test func userNetworkContainerNetworkAndVolumeHaveDockersShape() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        _ = try? PeerDocker.docker("rm", "-f", "h14-parity-net")
        _ = try? PeerDocker.docker("network", "rm", "h14-parity")
        _ = try? PeerDocker.docker("volume", "rm", "h14-parity")
        defer {
            _ = try? PeerDocker.docker("rm", "-f", "h14-parity-net")
            _ = try? PeerDocker.docker("network", "rm", "h14-parity")
            _ = try? PeerDocker.docker("volume", "rm", "h14-parity")
        }
        // Subnets of their own: the two daemons' bridges share the host.
        let net = "10.196"
        try sandbox.ok("network", "create", "--subnet", "\(net).0.0/16", "--ip-range", "\(net).1.0/24", "--label", "k=v", "h14-parity")
        defer {
            _ = try? sandbox.run("rm", "-f", "h14-parity-net")
            _ = try? sandbox.run("network", "rm", "h14-parity")
        }
        try PeerDocker.checked("network", "create", "--subnet", "10.95.0.0/16", "--ip-range", "10.95.1.0/24", "--label", "k=v", "h14-parity")
        try sandbox.ok("run", "-d", "--name", "h14-parity-net", "--network", "h14-parity", "--network-alias", "web",
                       "--ip", "\(net).1.9", "busybox", "sleep", "300")
        try PeerDocker.checked("run", "-d", "--name", "h14-parity-net", "--network", "h14-parity", "--network-alias", "web",
                               "--ip", "10.95.1.9", "busybox", "sleep", "300")
        try compare(sandbox, ["inspect", "h14-parity-net"], ["inspect", "h14-parity-net"])
        try compare(sandbox, ["network", "inspect", "h14-parity"], ["network", "inspect", "h14-parity"], valueKeys: [".Containers"])

        try both(sandbox, ["volume", "create", "h14-parity"])
        try compare(sandbox, ["volume", "inspect", "h14-parity"], ["volume", "inspect", "h14-parity"])
        try compare(sandbox, ["image", "inspect", "busybox"], ["image", "inspect", "busybox"])
    }
}
