@testable import BerthRuntime
@testable import BerthEngine
import Foundation
import Glibc
import Testing

@Suite struct EventLogTests {
    /// A fresh state root under the system's temporary directory.
    private func makeRoot() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/berth-events-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        return String(cString: made)
    }

    private func collect(_ stream: AsyncStream<Event>, count: Int) async -> [Event] {
        var events: [Event] = []
        for await event in stream {
            events.append(event)
            if events.count == count { break }
        }
        return events
    }

    private func all(_ stream: AsyncStream<Event>) async -> [Event] {
        var events: [Event] = []
        for await event in stream { events.append(event) }
        return events
    }

    @Test func pastEventsThenTheEndAtUntil() async throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root)
        let start = Date()
        log.record(.network, "create", id: "n1", attributes: ["name": "front", "type": "bridge"])
        log.record(.volume, "destroy", id: "data", attributes: ["driver": "local"])
        let events = await all(log.follow(since: start.addingTimeInterval(-1), until: Date(), filters: Filters()))
        #expect(events.map(\.action) == ["create", "destroy"])
        #expect(events[0].type == .network)
        #expect(events[0].actor == Event.Actor(id: "n1", attributes: ["name": "front", "type": "bridge"]))
        #expect(events[0].scope == "local")
        #expect(events[0].time == events[0].timeNano / 1_000_000_000)
        #expect(events[0].timeNano >= EventLog.nanoseconds(start) - 1_000_000)

        let later = await all(log.follow(since: Date().addingTimeInterval(60), until: Date().addingTimeInterval(-1), filters: Filters()))
        #expect(later.isEmpty)
    }

    @Test func linesHaveDockerdsFieldNames() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root)
        log.record(.container, "start", id: "abc", attributes: ["image": "busybox"])
        let text = try String(contentsOfFile: log.path, encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["Type", "Action", "Actor", "scope", "time", "timeNano"])
        #expect(object["Type"] as? String == "container")
        let actor = try #require(object["Actor"] as? [String: Any])
        #expect(actor["ID"] as? String == "abc")
        #expect(text.hasSuffix("}\n"))
    }

    @Test func followingSeesEventsAppendedLater() async throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root)
        let stream = log.follow(since: Date(), until: nil, filters: try Filters(cli: ["type=volume"]))
        let writer = Task {
            for index in 0..<5 {
                log.record(.network, "create", id: "n\(index)")
                log.record(.volume, "create", id: "v\(index)")
                try await Task.sleep(for: .milliseconds(30))
            }
        }
        let events = await collect(stream, count: 5)
        try await writer.value
        #expect(events.map(\.actor.id) == ["v0", "v1", "v2", "v3", "v4"])
    }

    @Test func rotationKeepsTheLogBoundedAndFollowersReadAcrossIt() async throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root, generationLimit: 4000)
        let since = Date()
        let stream = log.follow(since: since, until: nil, filters: Filters())
        for index in 0..<30 { log.record(.volume, "create", id: "volume-\(index)") }
        let events = await collect(stream, count: 30)
        #expect(events.map(\.actor.id) == (0..<30).map { "volume-\($0)" })
        #expect(FileManager.default.fileExists(atPath: log.rotatedPath))

        for index in 30..<300 { log.record(.volume, "create", id: "volume-\(index)") }
        let current = try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int ?? 0
        let rotated = try FileManager.default.attributesOfItem(atPath: log.rotatedPath)[.size] as? Int ?? 0
        #expect(current <= 4000 + 200 && rotated <= 4000 + 200)
        let kept = await all(log.follow(since: since, until: Date(), filters: Filters()))
        #expect(kept.last?.actor.id == "volume-299")
        #expect(kept.map(\.timeNano) == kept.map(\.timeNano).sorted())
    }

    @Test func concurrentWritersNeverInterleave() async throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root)
        let attributes = ["payload": String(repeating: "x", count: 3000)]
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for index in 0..<50 { log.record(.container, "create", id: "\(writer)-\(index)", attributes: attributes) }
                }
            }
        }
        let events = await all(log.follow(since: Date(timeIntervalSince1970: 0), until: Date(), filters: Filters()))
        #expect(events.count == 200)
        #expect(Set(events.map(\.actor.id)).count == 200)
    }

    @Test func aLineCutShortByAKilledWriterCostsOnlyThatEvent() async throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root)
        log.record(.volume, "create", id: "first")
        let handle = try #require(FileHandle(forWritingAtPath: log.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"Action":"create","Actor":{"#.utf8))
        handle.closeFile()
        log.record(.volume, "create", id: "after")
        let events = await all(log.follow(since: Date(timeIntervalSince1970: 0), until: Date(), filters: Filters()))
        #expect(events.map(\.actor.id) == ["first", "after"])
    }

    @Test func filtersAsDockerdAppliesThem() throws {
        func event(_ type: EventType, _ action: String, _ id: String, _ attributes: [String: String] = [:]) -> Event {
            Event(type: type, action: action, actor: .init(id: id, attributes: attributes), timeNano: 0)
        }
        let web = event(.container, "start", "abc123", ["name": "web", "image": "docker.io/library/busybox:latest", "tier": "front"])
        #expect(web.matches(try Filters(cli: ["container=web"])))
        #expect(web.matches(try Filters(cli: ["container=abc"])))
        #expect(!web.matches(try Filters(cli: ["container=db"])))
        #expect(web.matches(try Filters(cli: ["image=busybox"])))
        #expect(!web.matches(try Filters(cli: ["image=alpine"])))
        #expect(web.matches(try Filters(cli: ["event=start", "event=stop", "type=container"])))
        #expect(!web.matches(try Filters(cli: ["type=image"])))
        #expect(web.matches(try Filters(cli: ["label=tier=front", "scope=local"])))
        #expect(!web.matches(try Filters(cli: ["scope=swarm"])))
        #expect(!web.matches(try Filters(cli: ["network=front"])))

        let health = event(.container, "health_status: healthy", "abc123")
        #expect(health.matches(try Filters(cli: ["event=health_status"])))
        #expect(!health.matches(try Filters(cli: ["event=health"])))

        let tagged = event(.image, "tag", "sha256:1234", ["name": "registry.local/app:v1"])
        #expect(tagged.matches(try Filters(cli: ["image=registry.local/app"])))
        #expect(tagged.matches(try Filters(cli: ["image=sha256:1234"])))
        #expect(!tagged.matches(try Filters(cli: ["image=sha256"])))
    }
}
