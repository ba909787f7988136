import Foundation
import Testing

/// `docker network …` and `docker volume …` against `berth serve`: Docker's documents, filters,
/// connect and disconnect of a running container, prune rules, and dockerd's errors.
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPINetworkVolumeTests {
    private func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func networkLifecycleWithARunningContainer() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let id = try daemon.ok("network", "create", "--label", "tier=front", "--subnet", "10.123.0.0/24", "front")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64)
        try daemon.ok("network", "create", "back")
        #expect(try daemon.ok("network", "ls", "--format", "{{.Name}}").split(separator: "\n") == ["back", "bridge", "front", "host", "none"])
        #expect(try daemon.ok("network", "ls", "-q", "--filter", "label=tier=front") == String(id.prefix(12)) + "\n")
        #expect(try daemon.ok("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == "back\nfront\n")

        let inspected = try #require(try json(daemon.ok("network", "inspect", "front")) as? [[String: Any]]).first
        #expect(inspected?["Id"] as? String == id)
        #expect(inspected?["Driver"] as? String == "bridge")
        #expect(inspected?["Scope"] as? String == "local")
        #expect((inspected?["Labels"] as? [String: String]) == ["tier": "front"])
        let ipam = try #require(inspected?["IPAM"] as? [String: Any])
        #expect((ipam["Config"] as? [[String: String]])?.first?["Subnet"] == "10.123.0.0/24")

        let container = try daemon.sandbox.ok("run", "-d", "--name", "web", "busybox", "sleep", "300")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try daemon.ok("network", "connect", "--alias", "www", "front", "web")
        let attached = try #require(try json(daemon.ok("network", "inspect", "front", "--format", "{{json .Containers}}")) as? [String: [String: String]])
        let endpoint = try #require(attached[container], "\(attached)")
        #expect(endpoint["Name"] == "web")
        #expect(endpoint["IPv4Address"]?.hasPrefix("10.123.0.") == true)
        #expect(endpoint["EndpointID"]?.count == 64)
        // The container reaches the network's gateway through its new interface.
        try daemon.sandbox.ok("exec", "web", "ping", "-c", "1", "-W", "5", "10.123.0.1")

        let inUse = try daemon.docker("network", "rm", "front")
        #expect(!inUse.succeeded)
        #expect(inUse.err.contains("has active endpoints"), "\(inUse)")
        #expect(try daemon.request("DELETE", "/networks/front").status == 403)

        try daemon.ok("network", "disconnect", "front", "web")
        #expect(try daemon.ok("network", "inspect", "front", "--format", "{{len .Containers}}") == "0\n")
        let notConnected = try daemon.docker("network", "disconnect", "front", "web")
        #expect(!notConnected.succeeded)
        try daemon.ok("network", "disconnect", "--force", "front", "web")

        #expect(try daemon.ok("network", "rm", "front") == "front\n")
        #expect(try daemon.ok("network", "prune", "-f") == "Deleted Networks:\nback\n\n")
        #expect(try daemon.ok("network", "ls", "--format", "{{.Name}}") == "bridge\nhost\nnone\n")
        // The berth CLI sees what the daemon did, and recorded events name every step.
        #expect(try daemon.sandbox.ok("network", "ls", "-q").split(separator: "\n").count == 3)
        let events = try daemon.ok("events", "--since", "0", "--until", String(Int(Date().timeIntervalSince1970) + 1),
                                   "--filter", "network=front", "--format", "{{.Action}}")
        #expect(events == "create\nconnect\ndisconnect\ndestroy\n")
    }

    @Test func composeStyleNetworkCreateIsAcceptedAndTheUnsupportedIsRefused() throws {
        let daemon = try BerthDaemon()
        // What docker-compose 1.29 sends through docker-py.
        let created = try daemon.request("POST", "/v1.41/networks/create", body: """
            {"Name":"proj_default","Driver":"bridge","Options":{},"IPAM":null,"CheckDuplicate":true,"Internal":false,\
            "Labels":{"com.docker.compose.network":"default","com.docker.compose.project":"proj"},"Attachable":true}
            """)
        #expect(created.status == 201, "\(created)")
        let inspected = try daemon.request("GET", "/v1.41/networks/proj_default")
        let document = try #require(try json(inspected.body) as? [String: Any])
        #expect(document["Attachable"] as? Bool == true)
        #expect((document["Labels"] as? [String: String])?["com.docker.compose.project"] == "proj")
        let listed = try #require(try json(daemon.request("GET", "/v1.41/networks?filters=%7B%22label%22%3A%7B%22com.docker.compose.project%3Dproj%22%3Atrue%7D%7D").body) as? [[String: Any]])
        #expect(listed.map { $0["Name"] as? String } == ["proj_default"])

        for body in [#"{"Name":"x","EnableIPv6":true}"#, #"{"Name":"x","Options":{"com.docker.network.driver.mtu":"1400"}}"#] {
            let refused = try daemon.request("POST", "/networks/create", body: body)
            #expect(refused.status == 400, "\(body): \(refused)")
            #expect(refused.body.contains("not supported by Berth"), "\(refused)")
        }
        #expect(try daemon.request("GET", "/networks/x").status == 404)
    }

    @Test func volumeLifecycle() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        #expect(try daemon.ok("volume", "create", "--label", "keep=yes", "named") == "named\n")
        try daemon.ok("volume", "create", "other")
        let inspected = try #require(try json(daemon.ok("volume", "inspect", "named")) as? [[String: Any]]).first
        #expect(inspected?["Name"] as? String == "named")
        #expect(inspected?["Driver"] as? String == "local")
        #expect(inspected?["Mountpoint"] as? String == daemon.sandbox.root + "/volumes/named/_data")
        #expect((inspected?["Labels"] as? [String: String]) == ["keep": "yes"])
        #expect(try daemon.ok("volume", "ls", "-q", "--filter", "label=keep") == "named\n")
        #expect(try daemon.ok("volume", "ls", "-q", "--filter", "name=oth") == "other\n")

        try daemon.sandbox.ok("create", "--name", "user", "-v", "named:/data", "-v", "/anon", "busybox", "true")
        #expect(try daemon.ok("volume", "ls", "-q", "--filter", "dangling=true") == "other\n")
        let inUse = try daemon.docker("volume", "rm", "named")
        #expect(!inUse.succeeded)
        #expect(inUse.err.contains("volume is in use"), "\(inUse)")
        #expect(try daemon.request("DELETE", "/volumes/named?force=1").status == 409)

        // API 1.42 and later: a prune takes anonymous volumes only, unless asked for all.
        let anonymous = try daemon.ok("volume", "ls", "-q").split(separator: "\n").map(String.init).filter { $0.count == 64 }
        #expect(anonymous.count == 1)
        try daemon.sandbox.ok("rm", "user")
        let pruned = try daemon.ok("volume", "prune", "-f")
        #expect(pruned.contains(anonymous[0]), "\(pruned)")
        #expect(!pruned.contains("named") && !pruned.contains("other"))
        let all = try daemon.ok("volume", "prune", "-f", "--all", "--filter", "label!=keep")
        #expect(all.contains("other") && !all.contains("named"), "\(all)")
        #expect(try daemon.ok("volume", "rm", "named") == "named\n")
        #expect(try daemon.ok("volume", "ls", "-q") == "")
        // Before API 1.42 a prune took named volumes too.
        try daemon.sandbox.ok("volume", "create", "old-style")
        let old = try daemon.request("POST", "/v1.41/volumes/prune")
        #expect(old.body.contains("old-style"), "\(old)")
    }

    @Test func errorsMatchTheDockerDaemons() throws {
        let daemon = try BerthDaemon()
        try PeerDocker.start()
        let requests: [(String, String, String?)] = [
            ("GET", "/v1.41/networks/no-such-network", nil),
            ("DELETE", "/v1.41/networks/no-such-network", nil),
            ("DELETE", "/v1.41/networks/bridge", nil),
            ("POST", "/v1.41/networks/create", #"{"Name":"bridge"}"#),
            ("POST", "/v1.41/networks/create", #"{"Name":"x","Driver":"no-such-driver"}"#),
            ("POST", "/v1.41/networks/bridge/connect", #"{"Container":"no-such-container"}"#),
            ("POST", "/v1.41/networks/bridge/disconnect", #"{"Container":"no-such-container"}"#),
            ("GET", "/v1.41/networks?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D", nil),
            ("GET", "/v1.41/volumes/no-such-volume", nil),
            ("DELETE", "/v1.41/volumes/no-such-volume", nil),
            ("POST", "/v1.41/volumes/create", #"{"Name":"bad/name"}"#),
            ("POST", "/v1.41/volumes/create", #"{"Name":"v","Driver":"no-such-driver"}"#),
            ("GET", "/v1.41/volumes?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D", nil),
            ("POST", "/v1.41/volumes/prune?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D", nil),
            ("POST", "/v1.41/networks/prune?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D", nil),
        ]
        for (method, path, body) in requests {
            let ours = try daemon.request(method, path, body: body)
            var arguments = ["-s", "-w", "\n%{http_code}", "--unix-socket", "/tmp/peer-docker.sock", "-X", method, "http://docker" + path]
            if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
            let theirs = try Command.run("/usr/bin/curl", arguments)
            #expect(ours.status == Int(theirs.lines.last ?? ""), "\(method) \(path): \(ours) vs \(theirs.out)")
            let message = try #require(try json(ours.body) as? [String: String], "\(ours)")
            let theirMessage = try #require(try json(theirs.lines.dropLast().joined(separator: "\n")) as? [String: String])
            // dockerd 20.10 capitalizes "Invalid filter"; newer ones do not, as Berth does not.
            #expect(message["message"]?.lowercased() == theirMessage["message"]?.lowercased(), "\(method) \(path)")
        }
        let missing = try daemon.docker("network", "inspect", "no-such-network")
        #expect(missing.err.contains("network no-such-network not found"), "\(missing)")
        let missingVolume = try daemon.docker("volume", "inspect", "no-such-volume")
        #expect(missingVolume.err.contains("get no-such-volume: no such volume"), "\(missingVolume)")
    }
}
