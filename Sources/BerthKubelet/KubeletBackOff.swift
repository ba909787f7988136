import Foundation
import Synchronization

/// The kubelet's back-off per key: a container's restarts (pod, container) and a pod's image pulls
/// (pod, image). Each failure doubles the key's window, from 10 s up to 5 minutes, and a window not
/// touched for 10 minutes (twice the maximum) is forgotten, so a container that ran that long
/// starts over at 10 s.
final class KubeletBackOff: Sendable {
    static let initial: Duration = .seconds(10)
    static let maximum: Duration = .seconds(300)

    private struct Entry {
        var window: Duration
        var lastUpdate: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])

    static func key(podUID: String, container: String) -> String { podUID + "/" + container }

    /// The window a container that exited `exitedAgo` ago still has to wait out, or nil when it may restart now.
    func window(for key: String, exitedAgo: Duration, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if now - entry.lastUpdate > Self.maximum * 2 {
                entries[key] = nil
                return nil
            }
            return exitedAgo < entry.window ? entry.window : nil
        }
    }

    /// Whether the window opened by the last failure is still open (image pulls: the failure is the pull).
    func isWaiting(_ key: String, now: ContinuousClock.Instant = .now) -> Bool {
        entries.withLock { entries in
            guard let entry = entries[key] else { return false }
            return now - entry.lastUpdate < entry.window
        }
    }

    /// Records a failure (a container that must restart, a pull that failed): the next window is
    /// 10 s, or twice the last one.
    func failed(_ key: String, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            var window = Self.initial
            if let entry = entries[key], now - entry.lastUpdate <= Self.maximum * 2 {
                window = min(entry.window * 2, Self.maximum)
            }
            entries[key] = Entry(window: window, lastUpdate: now)
        }
    }

    func forget(_ key: String) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    func forget(podUID: String) {
        entries.withLock { entries in entries = entries.filter { !$0.key.hasPrefix(podUID + "/") } }
    }
}
