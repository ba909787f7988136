import BerthProcess
import Foundation
import Glibc

/// One run's standard streams as the monitor holds them: the output pipes (stdout, stderr) or,
/// with `-t`, the pseudo-terminal's master runc sends over the console socket; the stdin pipe for
/// `-i`; and the attach socket (for `-i` or `-t`) through which clients send input and window
/// sizes and receive the terminal's output.
final class ContainerIO {
    private let tty: Bool
    private let openStdin: Bool
    private let stdinOnce: Bool
    /// The container's ends, handed to `runc create`: (descriptor here, descriptor in the container).
    private(set) var childDescriptors: [(Int32, Int32)] = []
    private var outputs: [(descriptor: Int32, stream: String)] = []
    private var master: Int32 = -1
    /// Where clients' input goes: the stdin pipe's write end, or the master; -1 when none.
    private var input: Int32 = -1
    private var pendingInput: [UInt8] = []
    private var closeInputWhenFlushed = false
    private var console: UnixListener?
    private var attach: UnixListener?
    private var clients: [Client] = []
    /// Per output, whether it has ended; empty until relaying starts.
    private var outputEnded: [Bool] = []

    private struct Client {
        var descriptor: Int32
        var decoder = AttachFrame.Decoder()
        /// Cleared when the client is gone; it is dropped at the top of the next relay round.
        var connected = true
    }

    init(config: ContainerRecord.Config, directory: String) throws {
        tty = config.tty
        openStdin = config.openStdin
        stdinOnce = config.stdinOnce
        do {
            if config.tty || config.openStdin {
                let listener = try UnixListener(directory: directory, name: AttachFrame.socketName)
                attach = listener
                Self.setNonBlocking(listener.descriptor)
            }
            if config.tty {
                let listener = try UnixListener(directory: directory, name: "console.sock")
                console = listener
                Self.setNonBlocking(listener.descriptor)
            } else {
                let out = try Pipe.make()
                childDescriptors = [(out.write, 1)]
                outputs = [(out.read, "stdout")]
                let err = try Pipe.make()
                childDescriptors.append((err.write, 2))
                outputs.append((err.read, "stderr"))
                if config.openStdin {
                    let stdin = try Pipe.make()
                    childDescriptors.append((stdin.read, 0))
                    input = stdin.write
                    Self.setNonBlocking(input)
                }
            }
        } catch {
            close()
            throw error
        }
    }

    /// The streams of a running container as a re-executed monitor takes them over (see
    /// `MonitorHandover`): descriptor numbers (-1 for none) and how the relay treats them.
    struct Handover: Equatable {
        /// The stdout pipe's read end, or the terminal's master.
        var stdout: Int32
        /// The stderr pipe's read end; -1 with a terminal.
        var stderr: Int32
        /// Where clients' input goes: the stdin pipe's write end, or the master.
        var input: Int32
        /// The attach socket's listener.
        var attach: Int32
        /// The connected attach clients.
        var clients: [Int32]
        var tty: Bool
        var stdinOnce: Bool

        /// Every descriptor, for the monitor to keep open across its execve.
        var descriptors: [Int32] { [stdout, stderr, input, attach].filter { $0 >= 0 } + clients }
    }

    /// Takes over the streams of a running container from the monitor that set it up.
    init(resuming handover: Handover, directory: String) throws {
        tty = handover.tty
        openStdin = handover.input >= 0
        stdinOnce = handover.stdinOnce
        if tty {
            master = handover.stdout
            outputs = [(master, "stdout")]
        } else {
            outputs = [(handover.stdout, "stdout"), (handover.stderr, "stderr")]
        }
        input = handover.input
        clients = handover.clients.map { Client(descriptor: $0) }
        if handover.attach >= 0 {
            do {
                attach = try UnixListener(adopting: handover.attach, directory: directory, name: AttachFrame.socketName)
            } catch {
                close()
                throw error
            }
        }
    }

    /// The streams to hand over once the container runs; nil while anything is in flight that
    /// only this process holds (input not yet written, a client's partly read frame).
    var handover: Handover? {
        guard childDescriptors.isEmpty, console == nil, pendingInput.isEmpty, !closeInputWhenFlushed,
              clients.allSatisfy({ $0.connected && $0.decoder.isEmpty }) else { return nil }
        return Handover(stdout: outputs.first?.descriptor ?? -1, stderr: tty ? -1 : outputs.last?.descriptor ?? -1,
                        input: input, attach: attach?.descriptor ?? -1, clients: clients.map(\.descriptor),
                        tty: tty, stdinOnce: stdinOnce)
    }

    /// `runc create`'s options for these streams.
    var runtimeArguments: [String] {
        console.map { ["--console-socket", $0.pathForOtherProcesses] } ?? []
    }

    /// After `runc create` ran: closes the container's ends here and takes the terminal's master.
    func created() throws {
        for (descriptor, _) in childDescriptors { Glibc.close(descriptor) }
        childDescriptors = []
        guard let console else { return }
        self.console = nil
        defer { console.close() }
        master = try ConsoleSocket.takeMaster(from: console)
        Self.setNonBlocking(master)
        outputs = [(master, "stdout")]
        if openStdin { input = master }
    }

    /// Waits for the first client (the CLI that started the container attached, or the client
    /// holding an `AttachHold`) and takes its first frame, so the terminal has the client's size
    /// before the process starts. Gives up when the caller's end of `sync` closes, or (with no
    /// `sync`) once `wanted` says the client no longer waits and none is pending (a client that
    /// connected lets go of its claim at once). Whether the client attached.
    func awaitFirstClient(whileReaderOf sync: Int32 = -1, while wanted: () -> Bool = { true }) -> Bool {
        guard let attach else { return false }
        while true {
            var fds = [pollfd(fd: attach.descriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: sync, events: 0, revents: 0)]
            if poll(&fds, 2, sync >= 0 ? -1 : 50) < 0 {
                if errno == EINTR { continue }
                return false
            }
            if fds[1].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return false }
            if fds[0].revents == 0, !wanted() { return false }
            guard fds[0].revents != 0, let connection = attach.accept() else { continue }
            clients.append(Client(descriptor: connection))
            let index = clients.count - 1
            var buffer = [UInt8](repeating: 0, count: 4096)
            while clients[index].connected {
                if let frame = clients[index].decoder.next() {
                    handle(frame)
                    // Input the client sent along with its first frame waits in the pipe (the
                    // relay only decodes what arrives after this).
                    while let next = clients[index].decoder.next() { handle(next) }
                    return true
                }
                receive(from: index, buffer: &buffer)
            }
            return false
        }
    }

    /// Copies output into the log (and, with a terminal, to the clients) and clients' input to
    /// the container, until the container's output ends, then closes everything and returns true;
    /// or, given a deadline, until then if the output goes on, and returns false.
    @discardableResult
    func relay(into log: LogWriter?, until deadline: ContinuousClock.Instant? = nil) -> Bool {
        if outputEnded.isEmpty { outputEnded = outputs.map { _ in false } }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while outputEnded.contains(false) {
            for client in clients where !client.connected { Glibc.close(client.descriptor) }
            clients.removeAll { !$0.connected }
            var fds = outputs.indices.map { pollfd(fd: outputEnded[$0] ? -1 : outputs[$0].descriptor, events: Int16(POLLIN), revents: 0) }
            let listenerIndex = fds.count
            fds.append(pollfd(fd: attach?.descriptor ?? -1, events: Int16(POLLIN), revents: 0))
            // A container that does not read its input stops the clients' input, not its output.
            let takingInput = pendingInput.count < 1 << 16
            let clientsStart = fds.count
            fds += clients.map { pollfd(fd: takingInput ? $0.descriptor : -1, events: Int16(POLLIN), revents: 0) }
            let inputIndex = fds.count
            fds.append(pollfd(fd: pendingInput.isEmpty ? -1 : input, events: Int16(POLLOUT), revents: 0))
            var timeout: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { return false }
                timeout = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            }
            if poll(&fds, nfds_t(fds.count), timeout) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in outputs.indices where !outputEnded[index] && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(outputs[index].descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    log?.append(buffer[0..<count], stream: outputs[index].stream)
                    if tty { broadcast(buffer[0..<count]) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    // A terminal's master reads EIO once the container's side is closed.
                    outputEnded[index] = true
                    log?.finish(stream: outputs[index].stream)
                }
            }
            if fds[listenerIndex].revents != 0, let connection = attach?.accept() {
                clients.append(Client(descriptor: connection))
            }
            for index in 0..<(inputIndex - clientsStart) where fds[clientsStart + index].revents != 0 {
                receive(from: index, buffer: &buffer)
                while let frame = clients[index].decoder.next() { handle(frame) }
            }
            if fds[inputIndex].revents != 0 { flushInput() }
        }
        close()
        return true
    }

    /// Reads what client `index` sent into its decoder; at its end, marks it gone.
    private func receive(from index: Int, buffer: inout [UInt8]) {
        let count = buffer.withUnsafeMutableBytes { read(clients[index].descriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            clients[index].decoder.append(buffer[0..<count])
        } else if count == 0 || errno != EINTR {
            clients[index].connected = false
            // A client that goes away (killed, say) ends its input as closing its stdin would.
            handle(.closeInput)
        }
    }

    private func handle(_ frame: AttachFrame) {
        switch frame {
        case .input(let bytes):
            guard input >= 0, !closeInputWhenFlushed else { return }
            pendingInput += bytes
            flushInput()
        case .closeInput:
            // Docker's StdinOnce: the attached client's end of input is the container's. A
            // terminal stays open (its stdin is the terminal itself).
            guard stdinOnce, !tty, input >= 0 else { return }
            closeInputWhenFlushed = true
            flushInput()
        case .resize(let size):
            if master >= 0, size.rows > 0, size.columns > 0 { size.apply(to: master) }
        }
    }

    /// Writes pending input as far as the container takes it without blocking.
    private func flushInput() {
        while !pendingInput.isEmpty, input >= 0 {
            let written = pendingInput.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            if written > 0 {
                pendingInput.removeFirst(written)
            } else if written < 0, errno == EINTR {
                continue
            } else if written < 0, errno == EAGAIN {
                return
            } else {
                // The container closed its stdin.
                pendingInput = []
                closeInput()
            }
        }
        if pendingInput.isEmpty, closeInputWhenFlushed { closeInput() }
    }

    private func closeInput() {
        if input >= 0, input != master { Glibc.close(input) }
        input = -1
    }

    /// Sends terminal output to every client, dropping those that are gone.
    private func broadcast(_ bytes: ArraySlice<UInt8>) {
        for index in clients.indices where clients[index].connected {
            var offset = bytes.startIndex
            while offset < bytes.endIndex {
                let sent = bytes[offset...].withUnsafeBytes { send(clients[index].descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0, errno == EINTR { continue }
                if sent <= 0 {
                    clients[index].connected = false
                    break
                }
                offset += sent
            }
        }
    }

    /// Closes every descriptor and socket this run held (clients see the end of the run).
    func close() {
        for (descriptor, _) in childDescriptors { Glibc.close(descriptor) }
        childDescriptors = []
        closeInput()
        for output in outputs { Glibc.close(output.descriptor) }
        if master >= 0, !outputs.contains(where: { $0.descriptor == master }) { Glibc.close(master) }
        outputs = []
        master = -1
        for client in clients { Glibc.close(client.descriptor) }
        clients = []
        console?.close()
        console = nil
        attach?.close()
        attach = nil
    }

    private static func setNonBlocking(_ descriptor: Int32) {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }
}
