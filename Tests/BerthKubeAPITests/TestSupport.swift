import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

/// A store in a fresh temporary directory, removed when the test ends.
final class ScratchStore {
    let directory: String
    let store: KubeObjectStore

    init(registry: KubeResourceRegistry = .builtIn, retainedRevisions: Int64 = 10_000) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeapi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try KubeObjectStore(path: directory + "/kube.db", registry: registry, retainedRevisions: retainedRevisions)
    }

    func reopen() throws -> KubeObjectStore {
        try KubeObjectStore(path: directory + "/kube.db", registry: store.registry, retainedRevisions: store.retainedRevisions)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func json(_ text: String) throws -> OrderedJSON {
    try OrderedJSON.parse(Array(text.utf8))
}

func configMap(_ name: String, labels: [String: String] = [:], data: [String: String] = [:]) -> OrderedJSON {
    .object([
        ("apiVersion", .string("v1")), ("kind", .string("ConfigMap")),
        ("metadata", .object([("name", .string(name)), ("labels", .stringMap(labels))])),
        ("data", .stringMap(data)),
    ])
}

extension AsyncStream where Element == KubeWatchEvent {
    /// The next `count` events as `TYPE name rv` lines.
    func first(_ count: Int) async -> [String] {
        var lines: [String] = []
        for await event in self {
            lines.append("\(event.type.rawValue) \(event.object.string("metadata", "name") ?? "") \(event.object.string("metadata", "resourceVersion") ?? "")")
            if lines.count == count { break }
        }
        return lines
    }
}

/// The `field: message` of each 422 cause `body` throws (none when it succeeds).
func causes(_ body: () throws -> Void) -> [String] {
    do {
        try body()
        return []
    } catch let error as KubeAPIError {
        #expect(error.code == 422, "\(error)")
        return error.causes.map { "\($0.field): \($0.message)" }
    } catch {
        Issue.record("\(error)")
        return []
    }
}
