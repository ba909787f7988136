import ArgumentParser
import BerthEngine
import BerthRuntime
import Dispatch
import Foundation
import Glibc
import Synchronization

/// This process's terminal in raw mode (as Docker's CLI puts it for `-it`): keys, Ctrl-C
/// included, go to the container's terminal as bytes, and its output is shown as is.
final class RawTerminal {
    private let descriptor: Int32
    private var saved = termios()

    /// Puts `descriptor` in raw mode; nil if it is not a terminal.
    init?(_ descriptor: Int32) {
        self.descriptor = descriptor
        guard isatty(descriptor) == 1, tcgetattr(descriptor, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(descriptor, TCSANOW, &raw) == 0 else { return nil }
    }

    /// Puts the terminal back as it was.
    func restore() {
        _ = tcsetattr(descriptor, TCSANOW, &saved)
    }
}

/// Copies between this process's stdio and a container's stream: stdin on a thread of its own,
/// window sizes on SIGWINCH, output on the caller's thread.
enum TerminalRelay {
    /// The size to give the container's terminal: Docker takes it from stdout.
    static var windowSize: TerminalSize? { TerminalSize.of(1) ?? TerminalSize.of(0) }

    /// Docker refuses `-it` when stdin is not a terminal.
    static func checkInputIsTerminal() throws {
        if isatty(0) != 1 {
            printError("the input device is not a TTY")
            throw ExitCode(1)
        }
    }

    /// Forwards stdin to `send` until end of file (or until `send` fails), then calls `end`.
    static func forwardInput(_ send: @escaping @Sendable (ArraySlice<UInt8>) -> Bool, end: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                if !send(buffer[0..<count]) { return }
            }
            end()
        }
        thread.start()
    }

    /// Calls `resize` with the window's size on each SIGWINCH, while the returned source lives.
    static func forwardWindowChanges(_ resize: @escaping @Sendable (TerminalSize) -> Void) -> DispatchSourceSignal {
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler {
            if let size = windowSize { resize(size) }
        }
        source.resume()
        return source
    }

    /// Copies what `read` returns to stdout until it returns 0 or less (end of the stream).
    static func copyOutput(_ read: (inout [UInt8]) -> Int) {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            let count = read(&buffer)
            if count <= 0 { return }
            writeAll(1, buffer[0..<count])
        }
    }

    /// Writes all of `bytes` to `descriptor`; false if it fails.
    @discardableResult
    static func writeAll(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

/// Docker's default detach keys, Ctrl-P Ctrl-Q (the engine's `DetachKeys`), watched across the
/// input thread's reads: typed into an attached terminal, they end the attachment and leave the
/// container running. A Ctrl-P not followed by Ctrl-Q is passed on.
final class DetachKeys: Sendable {
    private let state: Mutex<(matcher: BerthEngine.DetachKeys.Matcher, typed: Bool)>

    init(_ keys: BerthEngine.DetachKeys = .standard) {
        state = Mutex((matcher: BerthEngine.DetachKeys.Matcher(keys), typed: false))
    }

    /// Whether the sequence was typed.
    var detached: Bool { state.withLock { $0.typed } }

    /// The bytes of `input` to forward, and whether they end with the sequence (what follows it
    /// is dropped).
    func filter(_ input: ArraySlice<UInt8>) -> (forward: [UInt8], detach: Bool) {
        state.withLock { state in
            let result = state.matcher.filter(input)
            if result.detach { state.typed = true }
            return result
        }
    }
}
