import ArgumentParser
import BerthEngine

extension GlobalOptions {
    /// The service layer on this root, for the image, build and registry commands.
    func imageEngine() throws -> Engine {
        try Engine(root: root, monitorExecutable: Self.monitorExecutable())
    }
}

/// Runs `body`, reporting the engine's invalid parameters (bad filters, references, options) as
/// usage errors, as the commands reported them before they moved into the engine.
func asUsageError<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as EngineError where error.kind == .invalidParameter {
        throw ValidationError(error.message)
    }
}
