import BerthRuntime
import Foundation

extension EventLog {
    /// How often a follower looks for new events.
    private static let pollInterval = Duration.milliseconds(100)

    /// The events `filters` let through, as dockerd's `/events` streams them: with neither
    /// `since` nor `until`, those from now on; with either, first the logged ones from `since`
    /// (or the oldest kept) to `until`. The stream then follows the log — the events of every
    /// process on the root — until `until` passes, or without end; it finishes at once when
    /// `until` is already past. Cancelling the consumer stops the reading.
    public func follow(since: Date?, until: Date?, filters: Filters) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        let task = Task { [self] in
            let sinceNano = since.map(Self.nanoseconds) ?? 0
            let untilNano = until.map(Self.nanoseconds)
            var reader = EventLogReader(path: path)
            func deliver(_ events: [Event]) {
                for event in events where event.timeNano >= sinceNano && event.matches(filters) {
                    if let untilNano, event.timeNano > untilNano { continue }
                    continuation.yield(event)
                }
            }
            if since != nil || until != nil {
                reader.open()
                // The previous generation, unless it is the file just opened, renamed since.
                var rotated = EventLogReader(path: rotatedPath)
                rotated.open()
                if rotated.inode != reader.inode { deliver(rotated.readNew()) }
                deliver(reader.readNew())
            } else {
                reader.openAtEnd()
            }
            while !Task.isCancelled {
                if let untilNano, Self.nanoseconds(Date()) > untilNano { break }
                deliver(reader.readNew())
                try? await Task.sleep(for: Self.pollInterval)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    static func nanoseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000_000).rounded())
    }
}
