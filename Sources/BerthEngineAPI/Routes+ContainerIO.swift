import BerthEngine
import BerthRuntime
import Foundation
import NIOCore
import NIOHTTP1

extension Routes {
    /// A container's streams: attach, logs, exec, resize, stats and the archive endpoints `docker cp` uses.
    static func containerIO(_ engine: Engine) -> [Route] {
        [
            Route(.POST, "/containers/{id}/attach") { request, response in try await attach(engine, request, response) },
            Route(.GET, "/containers/{id}/logs") { request, response in try await logs(engine, request, response) },
            Route(.POST, "/containers/{id}/resize") { request, response in
                try await engine.resize(request.parameter("id"), to: try size(request))
                try await response.send(.ok)
            },
            Route(.GET, "/containers/{id}/stats") { request, response in try await stats(engine, request, response) },
            Route(.HEAD, "/containers/{id}/archive") { request, response in
                let stat = try await engine.statPath(request.parameter("id"), path: request.query.string("path") ?? "")
                try await response.send(.ok, headers: ["X-Docker-Container-Path-Stat": stat.headerValue, "Content-Type": "application/x-tar"])
            },
            Route(.GET, "/containers/{id}/archive") { request, response in
                let id = request.parameter("id"), path = request.query.string("path") ?? ""
                let stat = try await engine.statPath(id, path: path)
                try await response.startStream(contentType: "application/x-tar", headers: ["X-Docker-Container-Path-Stat": stat.headerValue])
                try await engine.archive(id, path: path) { try await response.write($0) }
                try await response.end()
            },
            Route(.PUT, "/containers/{id}/archive") { request, response in
                try await engine.extractArchive(request.parameter("id"), path: request.query.string("path") ?? "", archive: request.body,
                                                noOverwriteDirNonDir: request.query.bool("noOverwriteDirNonDir"),
                                                copyUIDGID: request.query.bool("copyUIDGID"))
                try await response.send(.ok)
            },
            Route(.POST, "/containers/{id}/exec") { request, response in
                let body = try await request.decodeBody(ExecCreateRequest.self)
                let id = try engine.createExec(request.parameter("id"), try body.config(version: request.version))
                try await response.sendJSON(["Id": id], status: .created)
            },
            Route(.POST, "/exec/{id}/start") { request, response in try await startExec(engine, request, response) },
            Route(.POST, "/exec/{id}/resize") { request, response in
                try engine.resizeExec(request.parameter("id"), to: try size(request))
                try await response.send(.ok)
            },
            Route(.GET, "/exec/{id}/json") { request, response in
                try await response.sendJSON(ExecInspectResponse(try engine.execs.state(request.parameter("id"))))
            },
        ]
    }

    /// `POST /containers/{id}/attach`: the connection is taken over; output as multiplexed frames
    /// (a raw stream with a terminal), the client's bytes to the container's stdin.
    private static func attach(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let query = request.query
        let options = AttachOptions(stdin: query.bool("stdin"), stdout: query.bool("stdout"), stderr: query.bool("stderr"),
                                    logs: query.bool("logs"), stream: query.bool("stream"), detachKeys: query.string("detachKeys"))
        let session = try engine.attach(request.parameter("id"), options)
        let raw = session.tty || request.version < APIVersion(1, 42)
        let connection = try await response.hijack(contentType: raw ? StreamFraming.rawContentType : StreamFraming.multiplexedContentType)
        let tty = session.tty
        try? await session.run(input: connection.input, clientGone: clientGone(response)) { stream, bytes in
            try await connection.write(tty ? bytes : StreamFraming.frame(stream, bytes))
        }
    }

    /// `GET /containers/{id}/logs`: the entries as frames (raw with a terminal), following until
    /// the container stops or the client goes.
    private static func logs(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let query = request.query
        let options = LogsOptions(stdout: query.bool("stdout"), stderr: query.bool("stderr"), follow: query.bool("follow"),
                                  since: try unixTime(query, "since"), until: try unixTime(query, "until"),
                                  timestamps: query.bool("timestamps"), tail: try LogsOptions.tail(query.string("tail") ?? "all"))
        let reader = try engine.logs(request.parameter("id"), options)
        let raw = reader.tty || request.version < APIVersion(1, 42)
        try await response.startStream(contentType: raw ? StreamFraming.rawContentType : StreamFraming.multiplexedContentType)
        let tty = reader.tty
        try? await reader.run(isConnected: { response.isClientConnected }) { entries in
            for entry in entries {
                let bytes = ByteBuffer(bytes: options.line(entry))
                try await response.write(tty ? bytes : StreamFraming.frame(entry.stream == "stderr" ? .stderr : .stdout, bytes))
            }
        }
        try? await response.end()
    }

    /// `GET /containers/{id}/stats`: one sample (`stream=false`, or `one-shot`) or one a second.
    private static func stats(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let stream = request.query.has("stream") ? request.query.bool("stream") : true
        let oneShot = request.query.bool("one-shot")
        if oneShot, stream {
            throw APIError(status: .badRequest, message: "cannot have stream=true and one-shot=true")
        }
        var started = false
        try await engine.stats(request.parameter("id"), stream: stream, oneShot: oneShot) { sample in
            if !started {
                try await response.startStream(contentType: "application/json")
                started = true
            }
            try await response.writeJSON(sample)
        }
        try await response.end()
    }

    /// `POST /exec/{id}/start`: detached, or on the connection taken over.
    private static func startExec(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let body = try await request.decodeBody(ExecStartRequest.self, empty: ExecStartRequest())
        let state = try engine.beginExec(request.parameter("id"))
        if body.Detach ?? false {
            try await engine.startExecInBackground(state)
            try await response.send(.ok)
            return
        }
        let tty = body.Tty ?? state.config.tty
        let raw = tty || request.version < APIVersion(1, 42)
        let connection = try await response.hijack(contentType: raw ? StreamFraming.rawContentType : StreamFraming.multiplexedContentType)
        await engine.runExec(state, input: connection.input) { stream, bytes in
            try await connection.write(tty ? bytes : StreamFraming.frame(stream, bytes))
        }
    }

    /// The `h` and `w` of a resize.
    private static func size(_ request: APIRequest) throws -> TerminalSize {
        func dimension(_ name: String, _ label: String) throws -> UInt16 {
            let text = request.query.string(name) ?? ""
            guard let value = UInt32(text) else {
                throw APIError(status: .badRequest, message: "invalid resize \(label) \"\(text)\": strconv.ParseUint: parsing \"\(text)\": invalid syntax")
            }
            return UInt16(clamping: value)
        }
        return TerminalSize(rows: try dimension("h", "height"), columns: try dimension("w", "width"))
    }

    /// A `since`/`until` parameter: Unix seconds with an optional fraction (dockerd's ParseUnixTimestamp); "0" or absent is none.
    private static func unixTime(_ query: Query, _ name: String) throws -> Date? {
        guard let text = query.string(name), !text.isEmpty, text != "0" else { return nil }
        guard let seconds = Double(text) else {
            throw APIError(status: .badRequest, message: "invalid value for \"\(name)\": \(text)")
        }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Returns once the client's connection is closed; ends early when the caller is cancelled.
    static func clientGone(_ response: ResponseWriter) -> @Sendable () async -> Void {
        let channel = response.channel
        return {
            let (closed, continuation) = AsyncStream<Void>.makeStream()
            channel.closeFuture.whenComplete { _ in continuation.finish() }
            for await _ in closed {}
        }
    }
}

/// `POST /containers/{id}/exec`'s body (Docker's ExecConfig).
struct ExecCreateRequest: Decodable {
    var User: String?
    var Privileged: Bool?
    var Tty: Bool?
    var ConsoleSize: [UInt]?
    var AttachStdin: Bool?
    var AttachStdout: Bool?
    var AttachStderr: Bool?
    var DetachKeys: String?
    var Env: [String]?
    var WorkingDir: String?
    var Cmd: [String]?

    func config(version: APIVersion) throws -> ExecConfig {
        var consoleSize: TerminalSize?
        if let ConsoleSize, version >= APIVersion(1, 42) {
            guard ConsoleSize.count == 2 else { throw APIError(status: .badRequest, message: "ConsoleSize: expected [height, width]") }
            consoleSize = TerminalSize(rows: UInt16(clamping: ConsoleSize[0]), columns: UInt16(clamping: ConsoleSize[1]))
        }
        return ExecConfig(command: Cmd ?? [], env: Env ?? [], user: User?.isEmpty == false ? User : nil, workingDir: WorkingDir,
                          tty: Tty ?? false, attachStdin: AttachStdin ?? false, attachStdout: AttachStdout ?? false,
                          attachStderr: AttachStderr ?? false, detachKeys: DetachKeys, consoleSize: consoleSize,
                          privileged: Privileged ?? false)
    }
}

/// `POST /exec/{id}/start`'s body.
struct ExecStartRequest: Decodable {
    var Detach: Bool?
    var Tty: Bool?
    var ConsoleSize: [UInt]?
}

/// `GET /exec/{id}/json`.
struct ExecInspectResponse: Encodable {
    struct Process: Encodable {
        let tty: Bool
        let entrypoint: String
        let arguments: [String]
        let privileged: Bool
        let user: String?
    }

    let CanRemove = false
    let ContainerID: String
    let DetachKeys: String
    let ExitCode: Int32?
    let ID: String
    let OpenStderr: Bool
    let OpenStdin: Bool
    let OpenStdout: Bool
    let ProcessConfig: Process
    let Running: Bool
    let Pid: Int32

    init(_ state: ExecState) {
        ContainerID = state.containerID
        DetachKeys = state.config.detachKeys ?? ""
        ExitCode = state.exitCode
        ID = state.id
        OpenStderr = state.config.attachStderr
        OpenStdin = state.config.attachStdin
        OpenStdout = state.config.attachStdout
        ProcessConfig = Process(tty: state.config.tty, entrypoint: state.config.command.first ?? "",
                              arguments: Array(state.config.command.dropFirst()), privileged: state.config.privileged,
                              user: state.config.user)
        Running = state.running
        Pid = state.pid
    }

    enum CodingKeys: String, CodingKey {
        case CanRemove, ContainerID, DetachKeys, ExitCode, ID, OpenStderr, OpenStdin, OpenStdout, ProcessConfig, Running, Pid
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(CanRemove, forKey: .CanRemove)
        try container.encode(ContainerID, forKey: .ContainerID)
        try container.encode(DetachKeys, forKey: .DetachKeys)
        // dockerd reports `null` while the command runs.
        try container.encode(ExitCode, forKey: .ExitCode)
        try container.encode(ID, forKey: .ID)
        try container.encode(OpenStderr, forKey: .OpenStderr)
        try container.encode(OpenStdin, forKey: .OpenStdin)
        try container.encode(OpenStdout, forKey: .OpenStdout)
        try container.encode(ProcessConfig, forKey: .ProcessConfig)
        try container.encode(Running, forKey: .Running)
        try container.encode(Pid, forKey: .Pid)
    }
}
