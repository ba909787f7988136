import BerthEngine
import Foundation
import Glibc
import Synchronization

/// Prints the engine's push and pull messages as the docker CLI prints dockerd's: on a terminal,
/// one live line per layer (with a progress bar while bytes move); otherwise a line per message,
/// leaving out transfers in progress and each layer's passing states.
final class TransferDisplay: Sendable {
    private struct Line {
        var id: String
        var status: String
        var progress: TransferMessage.Progress?
    }

    private struct State {
        var lines: [Line] = []
        var drawn = 0
    }

    private let isTerminal: Bool
    private let quiet: Bool
    /// Standard output, or standard error for the pull before `run` and `create`, whose standard
    /// output is the container's ID or output.
    private let descriptor: Int32
    private let state = Mutex(State())

    init(quiet: Bool, descriptor: Int32 = 1) {
        isTerminal = isatty(descriptor) != 0
        self.quiet = quiet
        self.descriptor = descriptor
    }

    /// Shows one message (called from several tasks at once).
    @Sendable func show(_ message: TransferMessage) {
        guard !quiet, message.aux == nil else { return }
        state.withLock { state in
            if isTerminal, let id = message.id {
                let line = Line(id: id, status: message.status, progress: message.progress)
                if let index = state.lines.firstIndex(where: { $0.id == id }) {
                    state.lines[index] = line
                } else {
                    state.lines.append(line)
                }
                draw(&state)
                return
            }
            // The layers' lines stay as drawn; what comes after starts below them.
            if isTerminal { state = State() }
            guard !message.isIntermediate, message.progress == nil else { return }
            write((message.id.map { "\($0): " } ?? "") + message.status + "\n")
        }
    }

    /// Redraws every layer's line in place (cursor up over what was drawn before).
    private func draw(_ state: inout State) {
        var output = state.drawn > 0 ? "\u{1B}[\(state.drawn)A" : ""
        for line in state.lines {
            output += "\u{1B}[2K\(line.id): \(line.status)"
            if let progress = line.progress, progress.total > 0 {
                let width = 50
                let filled = Int(Double(width) * min(1, Double(progress.current) / Double(progress.total)))
                let arrow = filled < width ? ">" : ""
                let bar = String(repeating: "=", count: max(0, filled - arrow.count)) + arrow
                    + String(repeating: " ", count: width - max(filled, arrow.count))
                // jsonmessage's HumanSize (four significant digits), the current size right-aligned in 8.
                let current = HumanUnits.size(progress.current, precision: 4)
                output += " [\(bar)] " + String(repeating: " ", count: max(0, 8 - current.count)) + current
                    + "/\(HumanUnits.size(progress.total, precision: 4))"
            }
            output += "\n"
        }
        state.drawn = state.lines.count
        write(output)
    }

    private func write(_ text: String) {
        fflush(nil)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            written += count
        }
    }
}
