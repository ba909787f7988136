/// The cron schedules a CronJob accepts: five fields (minute, hour, day of month, month, day of
/// week) or a descriptor (`@hourly`, `@every 1h`), with the apiserver's messages for the rest.
enum CronSchedule {
    static let descriptors: Set<String> = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]

    /// Why `schedule` is not a schedule, or nil.
    static func problem(_ schedule: String) -> String? {
        if schedule.hasPrefix("@") {
            if descriptors.contains(schedule) { return nil }
            if schedule.hasPrefix("@every ") {
                return KubeDurationText.seconds(String(schedule.dropFirst(7))) == nil ? "failed to parse duration \(schedule)" : nil
            }
            return "unrecognized descriptor: \(schedule)"
        }
        let fields = schedule.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            return "expected exactly 5 fields, found \(fields.count): [\(fields.joined(separator: " "))]"
        }
        let bounds: [(Int, Int, [String])] = [
            (0, 59, []), (0, 23, []), (1, 31, []),
            (1, 12, ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]),
            (0, 6, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
        ]
        for (field, (low, high, names)) in zip(fields, bounds) {
            if let problem = fieldProblem(field, low: low, high: high, names: names) { return problem }
        }
        return nil
    }

    private static func fieldProblem(_ field: String, low: Int, high: Int, names: [String]) -> String? {
        for part in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let rangeAndStep = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard rangeAndStep.count <= 2 else { return "too many slashes: \(part)" }
            let bounds = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            var start = low, end = high
            if rangeAndStep[0] != "*" && rangeAndStep[0] != "?" {
                guard bounds.count <= 2 else { return "too many hyphens: \(part)" }
                guard let first = number(bounds[0], names: names, low: low) else { return "failed to parse int from \(bounds[0]): strconv.Atoi: parsing \"\(bounds[0])\": invalid syntax" }
                start = first
                end = first
                if bounds.count == 2 {
                    guard let second = number(bounds[1], names: names, low: low) else { return "failed to parse int from \(bounds[1]): strconv.Atoi: parsing \"\(bounds[1])\": invalid syntax" }
                    end = second
                }
            }
            if rangeAndStep.count == 2 {
                guard let step = Int(rangeAndStep[1]) else { return "failed to parse int from \(rangeAndStep[1]): strconv.Atoi: parsing \"\(rangeAndStep[1])\": invalid syntax" }
                if step == 0 { return "step of range should be a positive number: \(part)" }
            }
            if start < low { return "beginning of range (\(start)) below minimum (\(low)): \(part)" }
            if end > high { return "end of range (\(end)) above maximum (\(high)): \(part)" }
            if start > end { return "beginning of range (\(start)) beyond end of range (\(end)): \(part)" }
        }
        return nil
    }

    private static func number(_ text: String, names: [String], low: Int) -> Int? {
        if let index = names.firstIndex(of: text.lowercased()) { return index + low }
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
        return Int(text)
    }
}

/// Go duration text (`1h30m`, `90s`) in seconds, for `@every`.
enum KubeDurationText {
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return total
    }
}
