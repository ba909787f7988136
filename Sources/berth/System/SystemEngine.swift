import ArgumentParser
import BerthEngine

extension GlobalOptions {
    /// The service layer on this root, for the network, volume and system commands.
    func systemEngine() throws -> Engine {
        try Engine(root: root, monitorExecutable: Self.monitorExecutable())
    }
}

/// Runs `body`, reporting the engine's invalid parameters (bad filters) as usage errors, as the
/// network and volume commands reported them before they moved into the engine.
func usageErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as EngineError where error.kind == .invalidParameter {
        throw ValidationError(error.message)
    }
}
