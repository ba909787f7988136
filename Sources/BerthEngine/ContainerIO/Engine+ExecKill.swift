import Foundation
import Glibc

extension Engine {
    /// Kills a running exec's command and every process it started (SIGKILL), for a front end
    /// whose client went away (Kubernetes' exec streams: a dropped client leaves nothing behind).
    /// False when the command is not running (yet, or any more).
    @discardableResult
    public func killExec(_ id: String) -> Bool {
        guard let state = try? execs.state(id), state.running, state.pid > 0 else { return false }
        ProcessTree.kill(state.pid)
        return true
    }
}

/// A process and its descendants, found through /proc (the host sees a container's processes).
enum ProcessTree {
    /// Stops the whole tree first (so nothing forks or is re-parented meanwhile), then kills it.
    static func kill(_ root: pid_t) {
        var stopped: Set<pid_t> = []
        while true {
            let tree = descendants(of: root).union([root])
            let fresh = tree.subtracting(stopped)
            if fresh.isEmpty { break }
            for pid in fresh { Glibc.kill(pid, SIGSTOP) }
            stopped.formUnion(fresh)
        }
        for pid in stopped { Glibc.kill(pid, SIGKILL) }
    }

    /// Every process below `root`, from each process's parent in /proc/<pid>/stat.
    static func descendants(of root: pid_t) -> Set<pid_t> {
        var children: [pid_t: [pid_t]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let parent = parent(of: pid) else { continue }
            children[parent, default: []].append(pid)
        }
        var found: Set<pid_t> = []
        var pending = [root]
        while let next = pending.popLast() {
            for child in children[next] ?? [] where found.insert(child).inserted { pending.append(child) }
        }
        return found
    }

    /// The fourth field of /proc/<pid>/stat; the command name before it is in parentheses and may hold spaces.
    private static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count >= 2 ? pid_t(fields[1]) : nil
    }
}
