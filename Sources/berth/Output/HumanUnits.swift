import BerthEngine
import BerthOCI
import Foundation

/// Sizes and durations worded as the Docker CLI words them (docker/go-units).
enum HumanUnits {
    private static let decimalUnits = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]

    /// go-units HumanSizeWithPrecision: decimal units, `%.<precision>g`.
    static func size(_ bytes: Int64, precision: Int = 3) -> String {
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < decimalUnits.count - 1 {
            value /= 1000
            unit += 1
        }
        // C's %g is Go's %g here; vsnprintf avoids Foundation's slow String(format:).
        var buffer = [CChar](repeating: 0, count: 32)
        _ = withVaList([Int32(precision), value]) { vsnprintf(&buffer, buffer.count, "%.*g", $0) }
        return String(cString: buffer) + decimalUnits[unit]
    }

    private static let binaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]

    /// go-units BytesSize: binary units, `%.4g`, as `stats` shows memory.
    static func binarySize(_ bytes: UInt64) -> String {
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < binaryUnits.count - 1 {
            value /= 1024
            unit += 1
        }
        var buffer = [CChar](repeating: 0, count: 32)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.4g", $0) }
        return String(cString: buffer) + binaryUnits[unit]
    }

    /// "2 hours ago", or "N/A" when the time is unknown.
    static func since(_ date: Date?) -> String {
        guard let date else { return "N/A" }
        return HumanDuration.describe(Date().timeIntervalSince(date)) + " ago"
    }

    /// Go's time.Time String() form that `docker images --format json` uses for CreatedAt.
    static func goTime(_ date: Date?) -> String {
        guard let date else { return "" }
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        return Timestamp.dateAndTime(parts, separator: " ") + " +0000 UTC"
    }
}
