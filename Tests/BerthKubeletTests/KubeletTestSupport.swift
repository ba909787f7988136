import BerthKubeAPI
import BerthTemplate
import Foundation

/// A typed view decoded from JSON, as the node decodes stored objects.
func decoded<T: Decodable>(_ json: String, as type: T.Type = T.self) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

/// A scratch object store in a temporary directory, removed by `cleanUp()`.
struct ScratchStore {
    let directory: String
    let store: KubeObjectStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubelet-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try KubeObjectStore(path: directory + "/kube.db")
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func create(_ resource: KubeResource, _ namespace: String?, _ json: String) throws -> OrderedJSON {
        try store.create(resource, namespace: namespace, object: OrderedJSON.parse(json))
    }
}
