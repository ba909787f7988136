import Glibc

/// Signals as dockerd reads them (`kill -s`, `stop -s`, StopSignal): a number, or a name with or
/// without `SIG`, in any case; `RTMIN+n` and `RTMAX-n` too.
public enum SignalName {
    static let numbers: [String: Int32] = [
        "ABRT": SIGABRT, "ALRM": SIGALRM, "BUS": SIGBUS, "CHLD": SIGCHLD, "CLD": SIGCHLD, "CONT": SIGCONT, "FPE": SIGFPE,
        "HUP": SIGHUP, "ILL": SIGILL, "INT": SIGINT, "IO": SIGIO, "IOT": SIGIOT, "KILL": SIGKILL, "PIPE": SIGPIPE,
        "POLL": SIGPOLL, "PROF": SIGPROF, "PWR": SIGPWR, "QUIT": SIGQUIT, "SEGV": SIGSEGV, "STKFLT": SIGSTKFLT,
        "STOP": SIGSTOP, "SYS": SIGSYS, "TERM": SIGTERM, "TRAP": SIGTRAP, "TSTP": SIGTSTP, "TTIN": SIGTTIN,
        "TTOU": SIGTTOU, "URG": SIGURG, "USR1": SIGUSR1, "USR2": SIGUSR2, "VTALRM": SIGVTALRM, "WINCH": SIGWINCH,
        "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
    ]

    /// The signal's number; dockerd's "Invalid signal" for anything else.
    public static func parse(_ text: String) throws -> Int32 {
        if let number = Int32(text) {
            guard number > 0, number <= 64 else { throw EngineError.invalidParameter("Invalid signal: \(text)") }
            return number
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = numbers[name] { return number }
        let minimum: Int32 = 34, maximum: Int32 = 64
        if name == "RTMIN" { return minimum }
        if name == "RTMAX" { return maximum }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), offset >= 0, minimum + offset <= maximum {
            return minimum + offset
        }
        if name.hasPrefix("RTMAX-"), let offset = Int32(name.dropFirst(6)), offset >= 0, maximum - offset >= minimum {
            return maximum - offset
        }
        throw EngineError.invalidParameter("Invalid signal: \(text)")
    }
}
