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
        emit("#\(step.number) \(Self.seconds(since: step.started, places: 3)) \(text)")
    }

    func note(_ step: Step, _ text: String) {
        emit("#\(step.number) \(text)")
    }

    func done(_ step: Step) {
        emit("#\(step.number) DONE \(Self.seconds(since: step.started, places: 1))s")
    }

    /// Seconds since `start` with `places` decimals, as `%.Nf` prints them, without Foundation's
    /// formatter: its first use costs runtime reflection, a noticeable part of a cached build.
    static func seconds(since start: Date, places: Int) -> String {
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let units = max(0, Int((Date().timeIntervalSince(start) * Double(scale)).rounded()))
        let fraction = String(units % scale)
        return "\(units / scale).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
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
