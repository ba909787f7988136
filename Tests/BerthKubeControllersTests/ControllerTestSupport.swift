import BerthKubeAPI
import BerthTemplate
import Foundation

/// A store in a fresh temporary directory with the controllers running over it; both go when the
/// test ends.
final class ControllerHarness {
    let directory: String
    let store: KubeObjectStore
    private var running: Task<Void, Never>?

    init(registry: KubeResourceRegistry = .builtIn) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubecontrollers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try KubeObjectStore(path: directory + "/kube.db", registry: registry)
    }

    /// Starts `body` (a controller loop) in the background until the harness goes.
    func start(_ body: @escaping @Sendable () async -> Void) {
        running = Task { await body() }
    }

    /// Waits (up to 20 s of polling) until `condition` holds; false if it never does.
    func eventually(_ condition: () throws -> Bool) async -> Bool {
        for _ in 0..<400 {
            if (try? condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    deinit {
        running?.cancel()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func object(_ text: String) throws -> OrderedJSON {
    try OrderedJSON.parse(Array(text.utf8))
}
