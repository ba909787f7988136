import Foundation

/// BuildKit's plain progress: `#N NAME`, output lines as `#N 0.123 text`, then `#N DONE 0.3s`,
/// `#N CACHED` or `#N ERROR: …`.
final class BuildProgress {
    struct Step {
        var number: Int
        var name: String
        var started: Date
    }

    private let emit: (String) -> Void
    private var next = 1

    init(_ emit: @escaping (String) -> Void) {
        self.emit = emit
    }

    func begin(_ name: String) -> Step {
        defer { next += 1 }
        emit("#\(next) \(name)")
        return Step(number: next, name: name, started: Date())
    }

    func line(_ step: Step, _ text: String) {
        emit("#\(step.number) \(String(format: "%.3f", Date().timeIntervalSince(step.started))) \(text)")
    }

    func note(_ step: Step, _ text: String) {
        emit("#\(step.number) \(text)")
    }

    func done(_ step: Step) {
        emit("#\(step.number) DONE \(String(format: "%.1f", Date().timeIntervalSince(step.started)))s")
    }

    func cached(_ step: Step) {
        emit("#\(step.number) CACHED")
    }

    func error(_ step: Step, _ message: String) {
        emit("#\(step.number) ERROR: \(message)")
    }

    func raw(_ text: String) {
        emit(text)
    }
}

/// Splits streamed output into lines for the progress, keeping a tail for error reports.
final class OutputLines {
    private var pending: [UInt8] = []
    private(set) var tail: [String] = []
    private let emit: (String) -> Void

    init(_ emit: @escaping (String) -> Void) {
        self.emit = emit
    }

    func append(_ bytes: [UInt8]) {
        pending.append(contentsOf: bytes)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            deliver(String(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
    }

    func finish() {
        if !pending.isEmpty { deliver(String(decoding: pending, as: UTF8.self)) }
        pending.removeAll()
    }

    private func deliver(_ line: String) {
        emit(line)
        tail.append(line)
        if tail.count > 10 { tail.removeFirst() }
    }
}
