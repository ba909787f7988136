import ArgumentParser
import BerthEngine
import BerthRuntime
import Dispatch
import Foundation
import Glibc

/// `berth run`: create and start a container; in the foreground, stream its output and exit with
/// its exit code.
///
/// The container always runs under its own monitor, which writes the json-file log. A foreground
/// `run` follows that log (through an open descriptor, so `--rm` removing the directory does not
/// cut it short) and the monitor's exit report: the output on the terminal is exactly what
/// `logs` shows, and killing the CLI never kills the container's bookkeeping.
struct ContainerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Create and run a new container from an image.", helpNames: [.long])

    @Flag(name: .shortAndLong, help: "Run container in background and print container ID.")
    var detach = false

    @OptionGroup var options: ContainerCreateFlags

    func run() async throws {
        if options.tty, options.interactive, !detach { try TerminalRelay.checkInputIsTerminal() }
        if detach, !options.attach.isEmpty { throw ValidationError("Conflicting options: -a and -d") }
        let keys: BerthEngine.DetachKeys
        do {
            keys = try BerthEngine.DetachKeys(parsing: options.detachKeys)
        } catch let error as EngineError {
            throw ValidationError(error.message)
        }
        let engine = try options.global.openEngine()
        let runtime = engine.runtime
        let record: ContainerRecord
        do {
            record = try await options.create(engine, detached: detach)
        } catch let error as ValidationError {
            throw error
        } catch {
            // Docker's `run` exits 125 when the container could not be created.
            printError(Self.failure(error))
            throw ExitCode(125)
        }
        if detach {
            do {
                try await engine.startContainer(record.id)
            } catch {
                printError(Self.failure(error))
                throw ExitCode((error as? ContainerStartError)?.exitCode ?? 125)
            }
            print(record.id)
            return
        }
        let connection: MonitorConnection
        var client: AttachClient?
        var log: LogReader?
        do {
            // The log is open before the container writes to it, so no rotation can take output
            // from under a foreground run.
            if !options.tty { log = try LogReader(path: runtime.containers.logPath(of: record.id), creating: true) }
            // With -i or -t the CLI attaches before the process starts, as Docker's does.
            (connection, client) = try engine.startContainerFollowing(
                record.id, attach: options.tty || options.interactive, size: TerminalRelay.windowSize)
        } catch {
            printError(Self.failure(error))
            throw ExitCode((error as? ContainerStartError)?.exitCode ?? 125)
        }
        var attach = Attach(runtime: runtime, id: record.id, connection: connection, log: log, client: client,
                            tty: options.tty, forwardsInput: options.interactive)
        attach.detachKeys = keys
        attach.proxiesSignals = options.sigProxy
        if !options.attach.isEmpty { attach.streams = Set(options.attach.map { $0.lowercased() }) }
        throw ExitCode(try attach.run())
    }
}

extension ContainerRun {
    /// The docker CLI's report of a container `run` could not create or start: the daemon's
    /// error, then where help is.
    static func failure(_ error: any Error) -> String {
        "berth: Error response from daemon: \(error)\n\nRun 'berth run --help' for more information"
    }
}

/// `berth create`: create a container without starting it.
struct ContainerCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a new container.", helpNames: [.long])

    @OptionGroup var options: ContainerCreateFlags

    func run() async throws {
        let engine = try options.global.openEngine()
        do {
            print(try await options.create(engine).id)
        } catch let error as ValidationError {
            throw error
        } catch {
            // Unlike `run` (125), Docker's `create` reports the daemon's refusal with status 1.
            printDaemonError(error)
            throw ExitCode(1)
        }
    }
}

/// `berth start`: start stopped containers.
struct ContainerStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Attach STDOUT/STDERR and forward signals.")
    var attach = false

    @Flag(name: .shortAndLong, help: "Attach container's STDIN.")
    var interactive = false

    @Flag(help: "Start every stopped container (with --filter, those that match).")
    var all = false

    @Option(help: ArgumentHelp("With --all: filter as `ps` does, e.g. 'restart-policy=always' (the boot service's choice).", valueName: "filter"))
    var filter: [String] = []

    @Argument(help: ArgumentHelp("Containers to start.", valueName: "container"))
    var containers: [String] = []

    func validate() throws {
        if all, !containers.isEmpty { throw ValidationError("--all and container names cannot be combined") }
        if !all, containers.isEmpty { throw ValidationError("\"start\" requires at least 1 argument (or --all)") }
        if !all, !filter.isEmpty { throw ValidationError("--filter needs --all") }
        if all, attach || interactive { throw ValidationError("you cannot start and attach multiple containers at once") }
    }

    func run() async throws {
        let engine = try global.openEngine()
        let runtime = engine.runtime
        if all {
            let chosen = try usageErrors { try engine.listContainersNow(ContainerListOptions(all: true, filters: try Filters(cli: filter))) }
                .filter { !$0.state.running && $0.state.status != .paused }
            try await forEachContainer(chosen.map(\.name)) { name in try await engine.startContainer(name) }
            return
        }
        if attach || interactive {
            guard containers.count == 1 else { throw ValidationError("you cannot start and attach multiple containers at once") }
            let record = try runtime.container(containers[0])
            let forwardsInput = interactive && record.config.openStdin
            if record.config.tty, forwardsInput { try TerminalRelay.checkInputIsTerminal() }
            // Docker attaches to a container that already runs.
            if record.state.running {
                throw ExitCode(try Attach.toRunning(runtime, record, forwardsInput: forwardsInput))
            }
            // Only this run's output is attached, as Docker attaches to the new process.
            let path = runtime.containers.logPath(of: record.id)
            let log = record.config.tty ? nil : try LogReader(path: path, offset: LogReader.size(of: path), creating: true)
            let (connection, client) = try engine.startContainerFollowing(
                record.id, attach: record.config.tty || forwardsInput, size: TerminalRelay.windowSize)
            throw ExitCode(try Attach(runtime: runtime, id: record.id, connection: connection, log: log,
                                      client: client, tty: record.config.tty, forwardsInput: forwardsInput).run())
        }
        try await forEachContainer(containers) { reference in
            // Starting a running container is not an error in Docker.
            try await notModifiedIsDone { try await engine.startContainer(reference) }
        }
    }
}

/// Attaches to a container's run until its monitor reports the exit. Without a terminal, follows
/// the container's log and forwards SIGINT and SIGTERM to the container (Docker's sig-proxy);
/// with `-t`, shows the terminal's output from the attach socket, with this process's terminal in
/// raw mode when it forwards input, and forwards window size changes (no sig-proxy: Ctrl-C reaches
/// the container through its terminal). With `forwardsInput`, stdin goes to the container and its
/// end closes the container's stdin (StdinOnce); on a terminal, Ctrl-P Ctrl-Q detaches.
struct Attach {
    var runtime: ContainerRuntime
    var id: String
    /// The report of the monitor this process started; nil when attached to a running container.
    var connection: MonitorConnection?
    /// The container's log, opened before the start; nil opens it now.
    var log: LogReader?
    var client: AttachClient?
    var tty = false
    var forwardsInput = false
    /// `--detach-keys`: the sequence that detaches from a terminal.
    var detachKeys = BerthEngine.DetachKeys.standard
    /// `--sig-proxy`: SIGINT and SIGTERM go on to the container.
    var proxiesSignals = true
    /// `-a`: the output streams shown (nil: both).
    var streams: Set<String>?

    func run() throws -> Int32 {
        let detachKeys = tty ? DetachKeys(self.detachKeys) : nil
        if let client, forwardsInput {
            TerminalRelay.forwardInput({ bytes in
                guard let detachKeys else { return client.sendInput(bytes) }
                let (forward, detach) = detachKeys.filter(bytes)
                if !forward.isEmpty, !client.sendInput(forward[...]) { return false }
                // Ends the output copy below, leaving the container running.
                if detach { client.shutdown() }
                return !detach
            }, end: { client.closeInput() })
        }
        if let client, tty {
            let raw = forwardsInput ? RawTerminal(0) : nil
            defer { raw?.restore() }
            let windowChanges = TerminalRelay.forwardWindowChanges { client.resize($0) }
            defer { windowChanges.cancel() }
            TerminalRelay.copyOutput { client.readOutput(into: &$0) }
            client.close()
            if detachKeys?.detached == true {
                connection?.finish()
                return 0
            }
            return exitCode(connection?.waitForExit())
        }
        defer { client?.close() }
        let reader = try log ?? LogReader(path: runtime.containers.logPath(of: id))
        let sources = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            let runtime = self.runtime
            let id = self.id
            // Without the proxy the signal ends this client alone, as it ends Docker's (the
            // process's threads block signals, so the default action would never come).
            let proxies = proxiesSignals
            source.setEventHandler {
                guard proxies else { exit(128 + signalNumber) }
                try? runtime.kill(id, signal: String(signalNumber))
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        var exitCode: Int32?
        if let connection {
            while exitCode == nil && !connection.isClosed {
                if case .exited(let code) = connection.readMessage(timeoutMilliseconds: 50) { exitCode = code }
                write(reader.readAvailable())
            }
            connection.finish()
        } else {
            while runtime.isMonitored(id) {
                usleep(50_000)
                write(reader.readAvailable())
            }
        }
        write(reader.readAvailable())
        return self.exitCode(exitCode)
    }

    /// Attaches to `record`'s running container: its terminal, or its log from now on, with
    /// stdin when `forwardsInput`; the container's exit code once its monitor ends.
    static func toRunning(_ runtime: ContainerRuntime, _ record: ContainerRecord, forwardsInput: Bool) throws -> Int32 {
        let client = record.config.tty || forwardsInput ? try runtime.attach(record.id, size: TerminalRelay.windowSize) : nil
        let path = runtime.containers.logPath(of: record.id)
        let log = record.config.tty ? nil : try LogReader(path: path, offset: LogReader.size(of: path))
        return try Attach(runtime: runtime, id: record.id, connection: nil, log: log, client: client,
                          tty: record.config.tty, forwardsInput: forwardsInput).run()
    }

    /// The exit code the monitor reported; if it died without reporting, the record (reconciled)
    /// has the best answer.
    private func exitCode(_ reported: Int32?) -> Int32 {
        if let reported { return reported }
        return (try? runtime.wait(id)).flatMap { $0 } ?? 255
    }

    private func write(_ entries: [JSONLog.Entry]) {
        for entry in entries where streams?.contains(entry.stream) ?? true {
            TerminalRelay.writeAll(entry.stream == "stderr" ? 2 : 1, entry.log[...])
        }
    }
}
