import BerthKubeAPI
import Foundation

/// exec and attach over SPDY (`v4.channel.k8s.io`, what kubectl speaks with
/// `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`): the client opens one stream per channel, named by
/// its `streamType` header: `error` always, `stdin`, `stdout`, `stderr` (not with a TTY) as the
/// request asks, and `resize` with a TTY (JSON sizes one after another). Once the command ends the
/// server ends stdout and stderr, writes the exit as a JSON `Status` on the error stream, and
/// ends that.
struct KubeRemoteCommandSPDY: Sendable {
    static let protocolName = "v4.channel.k8s.io"

    let session: KubePodStreamSession
    let request: KubePodStreamRequest

    /// The stream types the client opens for the request.
    var expectedStreams: Set<String> {
        var types: Set<String> = ["error"]
        if request.stdin { types.insert("stdin") }
        if request.stdout { types.insert("stdout") }
        if request.stderr && !request.tty { types.insert("stderr") }
        if request.tty { types.insert("resize") }
        return types
    }

    /// Relays until the command ends; the client leaving (the task cancelled) cancels the command.
    func serve(_ spdy: SPDYSession) async {
        let session = session
        await withTaskCancellationHandler {
            await relay(spdy)
        } onCancel: {
            session.cancel()
        }
    }

    private func relay(_ spdy: SPDYSession) async {
        var streams: [String: SPDYStream] = [:]
        let expected = expectedStreams
        for await stream in spdy.incoming {
            guard let type = stream.headers["streamtype"], expected.contains(type), streams[type] == nil else {
                await stream.reset()
                continue
            }
            streams[type] = stream
            if streams.count == expected.count { break }
        }
        guard streams.count == expected.count, let errorStream = streams["error"] else {
            session.cancel()
            return
        }
        let session = session, stdin = streams["stdin"], resize = streams["resize"], stdout = streams["stdout"], stderr = streams["stderr"]
        await withTaskGroup(of: Void.self) { group in
            if let stdin {
                group.addTask {
                    while let chunk = await stdin.read() { session.write(chunk) }
                    session.closeInput()
                }
            }
            if let resize {
                group.addTask {
                    var pending: [UInt8] = []
                    while let chunk = await resize.read() {
                        pending += chunk
                        for size in Self.sizes(in: &pending) { session.resize(size) }
                    }
                }
            }
            await withTaskGroup(of: Void.self) { outputs in
                outputs.addTask { await Self.copy(session.stdout, to: stdout) }
                outputs.addTask { await Self.copy(session.stderr, to: stderr) }
            }
            let exit = await session.exit
            try? await errorStream.write(Array(exit.status.compact.utf8))
            await errorStream.close()
            group.cancelAll()
        }
    }

    /// Copies one output to its stream (dropping it when the client did not ask for it) and ends it.
    private static func copy(_ output: AsyncStream<[UInt8]>, to stream: SPDYStream?) async {
        for await chunk in output {
            try? await stream?.write(chunk)
        }
        await stream?.close()
    }

    /// The complete JSON objects at the start of `bytes` as terminal sizes; an incomplete one stays.
    static func sizes(in bytes: inout [UInt8]) -> [KubeTerminalSize] {
        var sizes: [KubeTerminalSize] = []
        while let end = bytes.firstIndex(of: UInt8(ascii: "}")) {
            let object = Array(bytes[...end])
            bytes.removeFirst(end + 1)
            if let size = try? JSONDecoder().decode(KubeTerminalSize.self, from: Data(object)) { sizes.append(size) }
        }
        return sizes
    }
}
