import BerthNetwork
import BerthRuntime
import Glibc

// berth-monitor: the processes Berth runs outside its CLI, in an executable of their own so that
// each idle container's monitor stays small and starts fast (no argument parser, no HTTP or TLS).
//
//   berth-monitor --root ROOT [--attach] ID   the monitor of container ID (started by `run`/`start`)
//   berth-monitor --copy REQUEST              the container side of `cp` (started by `cp`)
//   berth-monitor --root ROOT --exec ID OPTIONS PIDFILE
//                                             an Engine API exec with a terminal (ExecTerminalHelper)
//   berth-monitor --root ROOT --resume ID …   the monitor again, re-executed by itself once the
//                                             container runs (see MonitorHandover)
//   berth-monitor --port-proxy PROTO HOSTPORT CONTAINERIP CONTAINERPORT
//                                             publishes a port on [::] (PortProxy, started by the monitor)

let usage = "usage: berth-monitor --root ROOT [--attach] ID | berth-monitor --copy REQUEST"
let arguments = Array(CommandLine.arguments.dropFirst())

func fail(_ message: String) -> Never {
    let text = "berth-monitor: \(message)\n\(usage)\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}

switch arguments.first {
case PortProxy.argument:
    exit(PortProxy.main(Array(arguments.dropFirst())))
case "--copy":
    guard arguments.count == 2 else { fail("--copy takes one request") }
    exit(CopyHelper.main(arguments[1]))
case "--root":
    var rest = arguments.dropFirst()
    guard let root = rest.popFirst() else { fail("--root needs a directory") }
    if rest.first == "--exec" {
        guard rest.count == 4 else { fail("--exec takes a container ID, options and a pid file") }
        let values = Array(rest.dropFirst())
        exit(ExecTerminalHelper.main(root: root, id: values[0], optionsJSON: values[1], pidFile: values[2]))
    }
    if rest.first == "--resume" {
        guard let status = Monitor.resume(root: root, arguments: Array(rest)) else { fail("malformed --resume arguments") }
        exit(status)
    }
    let attach = rest.first == "--attach"
    if attach { rest.removeFirst() }
    guard rest.count == 1, let id = rest.first, !id.hasPrefix("-") else { fail("expected one container ID") }
    exit(Monitor.main(root: root, id: id, awaitAttach: attach))
default:
    fail(arguments.first.map { "unknown argument \($0)" } ?? "no arguments")
}
