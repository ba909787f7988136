import Foundation

/// A CronJob's `spec.schedule`: standard five-field cron (minute, hour, day of month, month, day of
/// week) with lists, ranges, steps, `*`/`?`, month and weekday names and the `@yearly`…`@hourly`
/// descriptors, and `@every <duration>`, read as the cron library kube-controller-manager uses
/// reads it. When both day fields are restricted a day matches if either does; when either is `*`
/// both must. Admission and the CronJob controller both parse with it, so a schedule the API
/// accepts is one the controller can run.
public struct CronSchedule: Sendable, Equatable {
    /// Why a schedule is not one, in the apiserver's words.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    var minutes: Set<Int>
    var hours: Set<Int>
    var daysOfMonth: Set<Int>
    var months: Set<Int>
    var daysOfWeek: Set<Int>
    /// Whether the day fields were written as `*` or `?` (a step makes a field restricted).
    var anyDayOfMonth: Bool
    var anyDayOfWeek: Bool
    /// `@every`: a fixed interval (whole seconds, at least one) instead of the fields.
    var every: TimeInterval?

    private static let descriptors = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                                     "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12]
    private static let weekdayNames = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

    public init(parsing text: String) throws(ParseError) {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@every ") {
            let text = String(trimmed.dropFirst("@every ".count))
            guard let seconds = Self.duration(text) else { throw ParseError(description: "failed to parse duration \(trimmed)") }
            (minutes, hours, daysOfMonth, months, daysOfWeek, anyDayOfMonth, anyDayOfWeek) = ([], [], [], [], [], false, false)
            every = max(1, seconds.rounded(.down))
            return
        }
        if trimmed.hasPrefix("@") {
            guard let expanded = Self.descriptors[trimmed] else { throw ParseError(description: "unrecognized descriptor: \(trimmed)") }
            trimmed = expanded
        }
        if trimmed.hasPrefix("TZ=") || trimmed.hasPrefix("CRON_TZ=") {
            throw ParseError(description: "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
        }
        let fields = trimmed.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "expected exactly 5 fields, found \(fields.count): [\(fields.joined(separator: " "))]")
        }
        var any = false, anyDayOfMonth = false, anyDayOfWeek = false
        minutes = try Self.field(fields[0], 0...59, names: [:], any: &any)
        hours = try Self.field(fields[1], 0...23, names: [:], any: &any)
        daysOfMonth = try Self.field(fields[2], 1...31, names: [:], any: &anyDayOfMonth)
        months = try Self.field(fields[3], 1...12, names: Self.monthNames, any: &any)
        daysOfWeek = try Self.field(fields[4], 0...6, names: Self.weekdayNames, any: &anyDayOfWeek)
        self.anyDayOfMonth = anyDayOfMonth
        self.anyDayOfWeek = anyDayOfWeek
    }

    /// Why `schedule` is not a schedule, or nil.
    static func problem(_ schedule: String) -> String? {
        do {
            _ = try CronSchedule(parsing: schedule)
            return nil
        } catch {
            return error.description
        }
    }

    /// The values of one field; `any` tells whether it was written as a bare `*` or `?`.
    private static func field(_ text: String, _ bounds: ClosedRange<Int>, names: [String: Int], any: inout Bool) throws(ParseError) -> Set<Int> {
        var values: Set<Int> = []
        any = false
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let rangeAndStep = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard rangeAndStep.count <= 2 else { throw ParseError(description: "too many slashes: \(part)") }
            let bounds2 = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard bounds2.count <= 2 else { throw ParseError(description: "too many hyphens: \(part)") }
            var start: Int, end: Int
            var star = false
            if bounds2[0] == "*" || bounds2[0] == "?" {
                guard bounds2.count == 1 else { throw ParseError(description: "too many hyphens: \(part)") }
                (start, end, star) = (bounds.lowerBound, bounds.upperBound, true)
            } else {
                start = try number(bounds2[0], names: names)
                end = bounds2.count == 2 ? try number(bounds2[1], names: names) : start
            }
            var step = 1
            if rangeAndStep.count == 2 {
                guard let value = Int(rangeAndStep[1]) else { throw ParseError(description: "failed to parse int from \(rangeAndStep[1]): strconv.Atoi: parsing \"\(rangeAndStep[1])\": invalid syntax") }
                step = value
                // "N/step" means "N-max/step".
                if bounds2.count == 1, !star { end = bounds.upperBound }
                if step > 1 { star = false }
            }
            guard start >= bounds.lowerBound else { throw ParseError(description: "beginning of range (\(start)) below minimum (\(bounds.lowerBound)): \(part)") }
            guard end <= bounds.upperBound else { throw ParseError(description: "end of range (\(end)) above maximum (\(bounds.upperBound)): \(part)") }
            guard start <= end else { throw ParseError(description: "beginning of range (\(start)) beyond end of range (\(end)): \(part)") }
            guard step > 0 else { throw ParseError(description: "step of range should be a positive number: \(part)") }
            values.formUnion(stride(from: start, through: end, by: step))
            any = any || star
        }
        return values
    }

    private static func number(_ text: String, names: [String: Int]) throws(ParseError) -> Int {
        if let value = names[text.lowercased()] { return value }
        guard let value = Int(text), value >= 0 else {
            throw ParseError(description: "failed to parse int from \(text): strconv.Atoi: parsing \"\(text)\": invalid syntax")
        }
        return value
    }

    /// A Go duration (`90s`, `1h30m`, `1.5h`, `500ms`) in seconds; nil when malformed.
    public static func duration(_ text: String) -> TimeInterval? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }

    /// The first scheduled minute strictly after `date`, in `zone`; nil when none comes within
    /// five years (a day that never exists, such as February 30).
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        if let every { return Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down) + every) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var time = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        let limit = time.addingTimeInterval(5 * 366 * 86_400)
        while time <= limit {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: time)
            guard let year = parts.year, let month = parts.month, let day = parts.day, let hour = parts.hour,
                  let minute = parts.minute, let weekday = parts.weekday else { return nil }
            if !months.contains(month) {
                guard let start = calendar.date(from: DateComponents(year: year, month: month + 1, day: 1)) else { return nil }
                time = start
            } else if !dayMatches(day: day, weekday: weekday - 1) {
                guard let start = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: time)) else { return nil }
                time = start
            } else if !hours.contains(hour) {
                time = time.addingTimeInterval(TimeInterval(3600 - minute * 60))
            } else if !minutes.contains(minute) {
                time = time.addingTimeInterval(60)
            } else {
                return time
            }
        }
        return nil
    }

    /// The latest scheduled time in (`earliest`, `now`] and how many scheduled times that span
    /// holds (counting stops a little past 100, the point where the controller warns).
    public func mostRecent(after earliest: Date, until now: Date, in zone: TimeZone) -> (time: Date?, missed: Int) {
        var latest: Date?
        var count = 0
        var cursor = earliest
        while count <= 100, let time = next(after: cursor, in: zone), time <= now {
            latest = time
            count += 1
            cursor = time
        }
        guard count > 100 else { return (latest, count) }
        // Too many to walk: look for the latest one in windows that grow back from now.
        for window: TimeInterval in [3600, 86_400, 31 * 86_400, 366 * 86_400, 5 * 366 * 86_400] {
            var cursor = max(earliest, now.addingTimeInterval(-window))
            var found: Date?
            while let time = next(after: cursor, in: zone), time <= now {
                found = time
                cursor = time
            }
            if let found { return (found, count) }
        }
        return (latest, count)
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let dayOfMonth = daysOfMonth.contains(day), dayOfWeek = daysOfWeek.contains(weekday)
        return anyDayOfMonth || anyDayOfWeek ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }
}
