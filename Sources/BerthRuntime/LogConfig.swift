/// Docker's HostConfig.LogConfig: the log driver (`json-file`, the default, or `none`) and its
/// options (`--log-driver`, `--log-opt`).
public struct LogConfig: Codable, Hashable, Sendable {
    public var type: String
    public var config: [String: String]

    public init(type: String = "json-file", config: [String: String] = [:]) {
        self.type = type
        self.config = config
    }

    /// The log drivers Docker has built in that Berth does not implement.
    static let otherDockerDrivers: Set<String> = [
        "local", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries",
    ]

    /// The json-file options Docker accepts that Berth does not implement (they add attributes to entries).
    static let unimplementedOptions: Set<String> = ["labels", "labels-regex", "env", "env-regex", "tag"]

    /// Parses `--log-driver` and the `--log-opt key=value` flags, checking them as Docker's CLI and
    /// daemon do, with Docker's messages.
    public init(driver: String?, options: [String]) throws {
        var config: [String: String] = [:]
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            config[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let type = driver.flatMap { $0.isEmpty ? nil : $0 } ?? "json-file"
        switch type {
        case "none":
            guard options.isEmpty else { throw RuntimeError.invalidOption("invalid logging opts for driver none") }
        case "json-file":
            for key in config.keys.sorted() {
                if Self.unimplementedOptions.contains(key) {
                    throw RuntimeError.invalidOption("log opt '\(key)' of the json-file log driver is not supported by berth")
                }
                guard ["max-size", "max-file", "compress"].contains(key) else {
                    throw RuntimeError.invalidOption("unknown log opt '\(key)' for json-file log driver")
                }
            }
        default:
            if Self.otherDockerDrivers.contains(type) {
                throw RuntimeError.invalidOption("logging driver \"\(type)\" is not supported by berth: use json-file or none")
            }
            throw RuntimeError.invalidOption("error looking up logging plugin \(type): plugin \"\(type)\" not found")
        }
        self.init(type: type, config: config)
        _ = try rotation()
    }

    /// Whether `logs` can read what this driver keeps.
    public var isReadable: Bool { type != "none" }

    /// How the json-file log rotates: at `maxSize` bytes (nil: never), keeping `maxFiles` files.
    struct Rotation: Equatable {
        var maxSize: Int64?
        var maxFiles: Int
    }

    /// The rotation the options ask for, checked as Docker's json-file driver checks them.
    func rotation() throws -> Rotation {
        func failure(_ why: String) -> RuntimeError { .invalidOption("failed to initialize logging driver: " + why) }
        var maxSize: Int64?
        if let text = config["max-size"] {
            guard let size = Self.parseSize(text) else { throw failure("invalid size: '\(text)'") }
            guard size > 0 else { throw failure("max-size must be a positive number") }
            maxSize = size
        }
        var maxFiles = 1
        if let text = config["max-file"] {
            guard let count = Int(text) else { throw failure("strconv.Atoi: parsing \"\(text)\": invalid syntax") }
            guard count >= 1 else { throw failure("max-file cannot be less than 1") }
            maxFiles = count
        }
        if let text = config["compress"] {
            guard let compress = Self.parseBool(text) else {
                throw failure("strconv.ParseBool: parsing \"\(text)\": invalid syntax")
            }
            if compress {
                guard maxFiles > 1, maxSize != nil else {
                    throw failure("compress cannot be true when max-file is less than 2 or max-size is not set")
                }
                throw RuntimeError.invalidOption("log opt 'compress' of the json-file log driver is not supported by berth")
            }
        }
        return Rotation(maxSize: maxSize, maxFiles: maxFiles)
    }

    /// go-units FromHumanSize: a number with an optional decimal unit (k, m, g, t, p; 1k = 1000),
    /// optionally followed by `i` and/or `b`, case-insensitive (`10m`, `1.5MB`, `100 kb`).
    static func parseSize(_ text: String) -> Int64? {
        var number = Substring(text)
        var suffix = ""
        while let last = number.last, !last.isNumber, last != "." {
            suffix = String(last).lowercased() + suffix
            number = number.dropLast()
        }
        if suffix.hasPrefix(" ") { suffix.removeFirst() }
        guard let value = Double(number), value >= 0, !number.hasPrefix("+"), !number.hasPrefix("-") else { return nil }
        if suffix.hasSuffix("b") { suffix.removeLast() }
        if suffix.hasSuffix("i") { suffix.removeLast() }
        let multipliers: [String: Double] = ["": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15]
        guard let multiplier = multipliers[suffix] else { return nil }
        return Int64(value * multiplier)
    }

    /// Go's strconv.ParseBool.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}
