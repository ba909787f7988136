import BerthOCI
import Foundation

/// The times Docker's `--since`, `--until` and `until=` filters accept: RFC 3339 (also without
/// seconds or zone, and a bare date), Unix seconds with an optional fraction, or a Go duration
/// (`10m`, `1h30m`, `1.5h`) counted back from now.
public enum DockerTime {
    public static func parse(_ value: String, now: Date = Date()) -> Date? {
        // Unix seconds first: the RFC 3339 reader reads fields by position, and would take the
        // digits of `1700000000` padded with a time for a date.
        if !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let seconds = TimeInterval(value) {
            return Date(timeIntervalSince1970: seconds)
        }
        if let date = Timestamp.parse(value) ?? Timestamp.parse(value + "Z") ?? Timestamp.parse(value + ":00Z")
            ?? Timestamp.parse(value + "T00:00:00Z") {
            return date
        }
        if let seconds = TimeInterval(value), !value.contains("e"), !value.contains("E") {
            return Date(timeIntervalSince1970: seconds)
        }
        return goDuration(value).map { now.addingTimeInterval(-$0) }
    }

    /// Go's time.ParseDuration: a sequence of decimal numbers, each with a unit.
    public static func goDuration(_ text: String) -> TimeInterval? {
        let units: [String: TimeInterval] = ["ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600]
        var rest = Substring(text)
        var sign: TimeInterval = 1
        if rest.first == "-" || rest.first == "+" {
            if rest.first == "-" { sign = -1 }
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        var total: TimeInterval = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let amount = TimeInterval(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            guard let scale = units[String(unit)] else { return nil }
            rest = rest.dropFirst(unit.count)
            total += amount * scale
        }
        return sign * total
    }
}
