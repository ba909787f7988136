import Foundation
import Testing

/// Running kubectl on a terminal (exec -it, attach -it) and the Python client's `stream`.
extension KubeCluster {
    /// One step of a terminal session: type text, wait for output, or resize the window.
    enum TerminalStep: Encodable {
        case send(String)
        case expect(String)
        case resize(rows: Int, columns: Int)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .send(let text): try container.encode(["send": text])
            case .expect(let pattern): try container.encode(["expect": pattern])
            case .resize(let rows, let columns): try container.encode(["resize": [rows, columns]])
            }
        }
    }

    /// Runs kubectl on a pseudo-terminal of `rows`×`columns` (Python's pty), playing `steps`:
    /// what it printed and its exit status. Each `expect` (a regular expression) looks at the output
    /// after the previous one's match; one that never matches ends the run with status 99.
    func kubectlOnTerminal(_ arguments: [String], rows: Int = 24, columns: Int = 80, environment: [String: String] = [:],
                           steps: [TerminalStep]) throws -> CommandResult {
        let script = #"""
        import json, os, pty, re, select, struct, sys, time, fcntl, termios
        rows, columns, steps = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
        command = sys.argv[4:]
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execvp(command[0], command)
        output, position = b"", 0
        def read(seconds):
            global output
            ready, _, _ = select.select([fd], [], [], seconds)
            if not ready:
                return True
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            output += data
            return bool(data)
        for step in steps:
            if "send" in step:
                os.write(fd, step["send"].encode())
            elif "resize" in step:
                # The kernel signals SIGWINCH to kubectl, the terminal's foreground process.
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", step["resize"][0], step["resize"][1], 0, 0))
            else:
                deadline = time.time() + 60
                while True:
                    found = re.search(step["expect"].encode(), output[position:])
                    if found:
                        position += found.end()
                        break
                    if time.time() > deadline or not read(0.2):
                        sys.stdout.buffer.write(output)
                        sys.stderr.write("never saw %r\n" % step["expect"])
                        os.kill(pid, 9)
                        sys.exit(99)
        deadline = time.time() + 60
        while time.time() < deadline and read(0.2):
            pass
        _, status = os.waitpid(pid, 0)
        sys.stdout.buffer.write(output)
        sys.exit(os.waitstatus_to_exitcode(status))
        """#
        let encoded = String(decoding: try JSONEncoder().encode(steps), as: UTF8.self)
        return try Command.run("python3", ["-c", script, String(rows), String(columns), encoded, "kubectl", "--kubeconfig", kubeconfig,
                                           "--cache-dir", cacheDirectory] + arguments, environment: environment, timeout: 180)
    }

    /// Runs a Python script with the client configured for this cluster as `api` (a CoreV1Api)
    /// and `stream` imported.
    func python(_ body: String) throws -> CommandResult {
        let script = """
        import sys, json, time
        from kubernetes import client, config
        from kubernetes.stream import stream
        config.load_kube_config(sys.argv[1])
        api = client.CoreV1Api()

        """ + body
        return try Command.run("python3", ["-c", script, kubeconfig], timeout: 120)
    }
}
