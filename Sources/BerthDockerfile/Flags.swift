/// Validates an instruction's flags against the ones it accepts, with BuildKit's messages.
struct FlagSet {
    enum Kind { case string, bool, list }

    private let flags: [Flag]
    private let accepted: [String: Kind]
    private(set) var strings: [String: String] = [:]
    private(set) var bools: [String: Bool] = [:]
    private(set) var lists: [String: [String]] = [:]

    init(_ flags: [Flag], accepting accepted: [String: Kind]) throws {
        self.flags = flags
        self.accepted = accepted
        var seen: Set<String> = []
        for flag in flags {
            guard let kind = accepted[flag.name] else { throw InstructionError("unknown flag: \(flag.name)") }
            if kind != .list {
                guard seen.insert(flag.name).inserted else {
                    throw InstructionError("duplicate flag specified: \(flag.name)")
                }
            }
            switch kind {
            case .string:
                guard let value = flag.value else { throw InstructionError("missing a value on flag: \(flag.name)") }
                strings[flag.name] = value
            case .list:
                guard let value = flag.value else { throw InstructionError("missing a value on flag: \(flag.name)") }
                lists[flag.name, default: []].append(value)
            case .bool:
                switch flag.value?.lowercased() {
                case nil, "true": bools[flag.name] = true
                case "": throw InstructionError("missing a value on flag: \(flag.name)")
                case "false": bools[flag.name] = false
                default:
                    throw InstructionError("expecting boolean value for flag \(flag.name), not: \(flag.value ?? "")")
                }
            }
        }
    }
}

/// Go's `time.ParseDuration`, which HEALTHCHECK's duration flags use.
enum GoDuration {
    static func parse(_ text: String) throws -> Duration {
        let invalid = InstructionError("time: invalid duration \"\(text)\"")
        var chars = Substring(text)
        var negative = false
        if let sign = chars.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            chars = chars.dropFirst()
        }
        if chars == "0" { return .zero }
        guard !chars.isEmpty else { throw invalid }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var total = 0.0
        while !chars.isEmpty {
            let number = chars.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !number.isEmpty, number != ".", let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { throw invalid }
            chars = chars.dropFirst(number.count)
            let unitText = chars.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            guard let unit = units.first(where: { $0.0 == unitText }) else {
                throw InstructionError(
                    unitText.isEmpty ? "time: missing unit in duration \"\(text)\"" : "time: unknown unit \"\(unitText)\" in duration \"\(text)\"")
            }
            chars = chars.dropFirst(unitText.count)
            total += value * unit.1
        }
        let nanoseconds = Int64(total.rounded()) * (negative ? -1 : 1)
        return .nanoseconds(nanoseconds)
    }
}
