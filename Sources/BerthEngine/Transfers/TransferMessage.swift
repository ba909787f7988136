import BerthOCI
import BerthRegistryClient
import Foundation
import Synchronization

/// One message of a pull's or push's progress, in dockerd's terms (its JSON progress stream):
/// a status for the whole transfer, or for one layer (`id`), with bytes so far for a transfer in
/// progress, or the pushed manifest (`aux`).
public struct TransferMessage: Sendable, Equatable {
    public struct Progress: Sendable, Equatable {
        public var current: Int64
        public var total: Int64
    }

    /// What a push reports about each manifest it put (dockerd's `aux` message).
    public struct PushedManifest: Sendable, Equatable {
        public var tag: String
        public var digest: Digest
        public var size: Int
    }

    /// The layer's short ID, or the tag for `Pulling from`; nil for the transfer's own messages.
    public var id: String?
    public var status: String
    public var progress: Progress?
    /// A layer's passing state (`Pulling fs layer`, `Download complete`, `Preparing`), which a
    /// terminal shows until the next one and a log leaves out.
    public var isIntermediate: Bool
    public var aux: PushedManifest?

    public init(id: String? = nil, status: String, progress: Progress? = nil, isIntermediate: Bool = false,
                aux: PushedManifest? = nil) {
        self.id = id
        self.status = status
        self.progress = progress
        self.isIntermediate = isIntermediate
        self.aux = aux
    }
}

public typealias TransferProgressHandler = @Sendable (TransferMessage) -> Void

/// Turns the registry client's per-blob events into dockerd's messages: bytes added up per
/// layer, progress at most ten times a second per layer, and a first message (`Pulling from`)
/// once the transfer knows its layers.
final class TransferMessages: Sendable {
    private struct Layer {
        var current: Int64 = 0
        var total: Int64 = 0
        var lastReport = Date.distantPast
    }

    private let verb: String
    private let emit: TransferProgressHandler
    private let first: TransferMessage?
    private let state = Mutex<(started: Bool, layers: [Digest: Layer])>((false, [:]))

    /// `verb` names a layer's transfer ("Downloading", "Pushing"); `first` goes out before any layer's message.
    init(verb: String, first: TransferMessage?, emit: @escaping TransferProgressHandler) {
        self.verb = verb
        self.first = first
        self.emit = emit
    }

    /// Sends `first` unless it went already.
    func start() {
        let send = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        if send, let first { emit(first) }
    }

    var observer: TransferObserver {
        { [self] event in handle(event) }
    }

    private func handle(_ event: TransferEvent) {
        start()
        switch event {
        case .waiting(let layer):
            emit(TransferMessage(id: layer.shortID, status: "Pulling fs layer", isIntermediate: true))
        case .started(let layer, let total):
            state.withLock { $0.layers[layer] = Layer(total: total) }
        case .progressed(let layer, let bytes):
            let report = state.withLock { state -> TransferMessage.Progress? in
                var entry = state.layers[layer] ?? Layer()
                entry.current += Int64(bytes)
                defer { state.layers[layer] = entry }
                let now = Date()
                guard now.timeIntervalSince(entry.lastReport) >= 0.1 || entry.current == entry.total else { return nil }
                entry.lastReport = now
                return TransferMessage.Progress(current: entry.current, total: entry.total)
            }
            if let report { emit(TransferMessage(id: layer.shortID, status: verb, progress: report)) }
        case .finished(let layer, let status):
            if status == .pullComplete {
                emit(TransferMessage(id: layer.shortID, status: "Download complete", isIntermediate: true))
            }
            emit(TransferMessage(id: layer.shortID, status: status.description))
        }
    }
}
