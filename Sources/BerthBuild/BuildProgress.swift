import Foundation

/// How a build reports its progress.
public enum BuildProgressStyle: Sendable {
    /// BuildKit's plain progress (`berth build`): `#N NAME`, output lines as `#N 0.123 text`,
    /// then `#N DONE 0.3s`, `#N CACHED` or `#N ERROR: …`.
    case plain
    /// The classic builder's (what dockerd streams for `POST /build`): `Step N/M : INSTRUCTION`
    /// for every instruction, ` ---> Using cache`, ` ---> Running in ID`, and the output as is.
    case classic
}

/// Writes a build's progress in either style; the builder reports every event and each style
/// shows the ones it has.
final class BuildProgress {
    struct Step {
        var number: Int
        var name: String
        var started: Date
    }

    private let emit: (String) -> Void
    private let style: BuildProgressStyle
    private var next = 1
    /// The classic style's step count: every instruction of every stage, and the ARGs before the first FROM.
    var instructionCount = 0
    private var nextInstruction = 1

    init(style: BuildProgressStyle, _ emit: @escaping (String) -> Void) {
        self.style = style
        self.emit = emit
    }

    /// An instruction starts (the classic style's `Step N/M : …`).
    func instruction(_ text: String) {
        guard style == .classic else { return }
        emit("Step \(nextInstruction)/\(instructionCount) : \(text)")
        nextInstruction += 1
    }

    /// A RUN step's container starts (the classic style's ` ---> Running in ID`).
    func running(_ containerID: String) {
        guard style == .classic else { return }
        emit(" ---> Running in \(containerID.suffix(12))")
    }

    func begin(_ name: String) -> Step {
        defer { next += 1 }
        if style == .plain { emit("#\(next) \(name)") }
        return Step(number: next, name: name, started: Date())
    }

    func line(_ step: Step, _ text: String) {
        switch style {
        case .plain: emit("#\(step.number) \(Self.seconds(since: step.started, places: 3)) \(text)")
        case .classic: emit(text)
        }
    }

    func note(_ step: Step, _ text: String) {
        if style == .plain { emit("#\(step.number) \(text)") }
    }

    func done(_ step: Step) {
        if style == .plain { emit("#\(step.number) DONE \(Self.seconds(since: step.started, places: 1))s") }
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
        switch style {
        case .plain: emit("#\(step.number) CACHED")
        case .classic: emit(" ---> Using cache")
        }
    }

    func error(_ step: Step, _ message: String) {
        if style == .plain { emit("#\(step.number) ERROR: \(message)") }
    }

    /// A line of the plain style's error report (the failed step's last output and the Dockerfile
    /// lines); the classic style reports the error in the stream's error message alone.
    func errorReport(_ text: String) {
        if style == .plain { emit(text) }
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
