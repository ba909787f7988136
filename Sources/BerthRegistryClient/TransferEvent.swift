import BerthOCI

/// What a push or pull reports about each blob, for the CLI to print (Docker's per-layer lines).
public enum TransferEvent: Sendable, Equatable {
    /// A pull resolved its manifest and will fetch this layer, which the store lacks (Docker's
    /// "Pulling fs layer"); reported for every such layer before any transfer starts.
    case waiting(layer: Digest)
    /// A layer is about to be transferred; `total` is its size in bytes.
    case started(layer: Digest, total: Int64)
    /// More bytes of a layer went over the wire.
    case progressed(layer: Digest, bytes: Int)
    /// A layer is done, with Docker's wording for how.
    case finished(layer: Digest, status: LayerStatus)

    public enum LayerStatus: Sendable, Equatable, CustomStringConvertible {
        case pushed
        case alreadyExists
        /// A pulled layer the store had already.
        case alreadyPresent
        case mounted(from: String)
        case pullComplete

        public var description: String {
            switch self {
            case .pushed: return "Pushed"
            case .alreadyExists: return "Layer already exists"
            case .alreadyPresent: return "Already exists"
            case .mounted(let repository): return "Mounted from \(repository)"
            case .pullComplete: return "Pull complete"
            }
        }
    }
}

/// Receives transfer events; called from several tasks at once.
public typealias TransferObserver = @Sendable (TransferEvent) -> Void

/// Runs `work` on each item with at most `limit` running at once; the first error cancels the rest.
func forEachConcurrently<Item: Sendable>(_ items: [Item], limit: Int,
                                         _ work: @escaping @Sendable (Item) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var iterator = items.makeIterator()
        for _ in 0..<limit {
            guard let item = iterator.next() else { break }
            group.addTask { try await work(item) }
        }
        while try await group.next() != nil {
            if let item = iterator.next() { group.addTask { try await work(item) } }
        }
    }
}
