import BerthOCI
import BerthRegistryClient
import Foundation

/// Prints push and pull progress as Docker does: on a terminal, one live line per layer with a
/// progress bar; otherwise one line per layer when it is done.
final class TransferDisplay: @unchecked Sendable {
    private struct Line {
        var id: String
        var status: String
        var current: Int64 = 0
        var total: Int64 = 0
        var bar: Bool = false
    }

    private let lock = NSLock()
    private let isTerminal: Bool
    private let quiet: Bool
    private let verb: String
    private var lines: [Line] = []
    private var drawn = 0
    private var lastDraw = Date.distantPast

    /// `verb` names the transfer in the progress line ("Pushing", "Downloading").
    init(verb: String, quiet: Bool) {
        isTerminal = isatty(1) != 0
        self.quiet = quiet
        self.verb = verb
    }

    /// Shows layers before any event about them arrives, in this order, with `status`.
    func prepare(_ layers: [Digest], status: String) {
        guard isTerminal, !quiet else { return }
        lock.withLock {
            for layer in layers where !lines.contains(where: { $0.id == layer.shortID }) {
                lines.append(Line(id: layer.shortID, status: status))
            }
            draw()
        }
    }

    var observer: TransferObserver {
        { [self] event in handle(event) }
    }

    private func handle(_ event: TransferEvent) {
        guard !quiet else { return }
        lock.withLock {
            switch event {
            case .started(let layer, let total):
                update(layer) { $0.status = verb; $0.total = total; $0.bar = true }
            case .progressed(let layer, let bytes):
                update(layer) { $0.current += Int64(bytes) }
                guard isTerminal, Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            case .finished(let layer, let status):
                update(layer) { $0.status = status.description; $0.bar = false }
                if !isTerminal {
                    print("\(layer.shortID): \(status)")
                    return
                }
            }
            if isTerminal { draw() }
        }
    }

    private func update(_ layer: Digest, _ change: (inout Line) -> Void) {
        if let index = lines.firstIndex(where: { $0.id == layer.shortID }) {
            change(&lines[index])
        } else {
            var line = Line(id: layer.shortID, status: "")
            change(&line)
            lines.append(line)
        }
    }

    /// Redraws every line in place (cursor up over what was drawn before).
    private func draw() {
        var output = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        for line in lines {
            output += "\u{1B}[2K\(line.id): \(line.status)"
            if line.bar, line.total > 0 {
                let width = 50
                let filled = Int(Double(width) * min(1, Double(line.current) / Double(line.total)))
                let arrow = filled < width ? ">" : ""
                let bar = String(repeating: "=", count: max(0, filled - arrow.count)) + arrow
                    + String(repeating: " ", count: width - max(filled, arrow.count))
                output += " [\(bar)]  \(HumanUnits.size(line.current))/\(HumanUnits.size(line.total))"
            }
            output += "\n"
        }
        drawn = lines.count
        lastDraw = Date()
        print(output, terminator: "")
        fflush(stdout)
    }
}
