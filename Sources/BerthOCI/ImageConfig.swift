import Foundation

/// The image configuration (OCI image-spec config.md), including the fields Docker adds
/// (`Healthcheck`, `OnBuild`, `Shell`) that Docker's image JSON carries.
public struct ImageConfig: Codable, Hashable, Sendable {
    /// created is the combined date and time at which the image was created (RFC 3339).
    public var created: String?
    /// author gives the name and/or email of the person or entity which created the image.
    public var author: String?
    /// Docker's extension: the commit message (`docker import -m`, "Imported from -").
    public var comment: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    /// config holds the execution parameters used as a base when running a container.
    public var config: ContainerConfig?
    /// rootfs references the layer content addresses (DiffIDs) used by the image.
    public var rootfs: RootFS
    /// history describes the history of each layer, in order.
    public var history: [History]?

    public init(architecture: String = Platform.current.architecture, os: String = Platform.current.os,
                config: ContainerConfig? = ContainerConfig(), rootfs: RootFS = RootFS(diffIDs: []),
                history: [History]? = nil, created: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.config = config
        self.rootfs = rootfs
        self.history = history
        self.created = created
    }

    public var platform: Platform {
        Platform(architecture: architecture, os: os, variant: variant)
    }
}

/// The execution parameters of an image (the `config` object of an image config).
public struct ContainerConfig: Codable, Hashable, Sendable {
    public var User: String?
    public var ExposedPorts: [String: EmptyObject]?
    public var Env: [String]?
    public var Entrypoint: [String]?
    public var Cmd: [String]?
    public var Volumes: [String: EmptyObject]?
    public var WorkingDir: String?
    public var Labels: [String: String]?
    public var StopSignal: String?
    public var ArgsEscaped: Bool?
    public var Healthcheck: HealthConfig?
    public var OnBuild: [String]?
    public var Shell: [String]?

    public init() {}
}

/// Docker's health check configuration. Durations are in nanoseconds, as Docker encodes them.
public struct HealthConfig: Codable, Hashable, Sendable {
    /// Test is `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    public var Test: [String]?
    public var Interval: Int64?
    public var Timeout: Int64?
    public var StartPeriod: Int64?
    public var StartInterval: Int64?
    public var Retries: Int?

    public init(Test: [String]? = nil) { self.Test = Test }
}

/// `{}`: the value type of ExposedPorts and Volumes, whose keys carry all the meaning.
public struct EmptyObject: Codable, Hashable, Sendable {
    public init() {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws {
        _ = encoder.container(keyedBy: EmptyKeys.self)
    }
    private enum EmptyKeys: CodingKey {}
}

/// RootFS references the layer content addresses used by the image.
public struct RootFS: Codable, Hashable, Sendable {
    /// type must be `layers`.
    public var type: String = "layers"
    /// diff_ids are the digests of the uncompressed layer tars, in order.
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }

    public init(diffIDs: [Digest]) { self.diffIDs = diffIDs }
}

/// One entry of an image's history.
public struct History: Codable, Hashable, Sendable {
    public var created: String?
    public var createdBy: String?
    public var author: String?
    public var comment: String?
    /// emptyLayer marks entries that did not create a filesystem layer.
    public var emptyLayer: Bool?

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }

    public init(created: String? = nil, createdBy: String? = nil, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.comment = comment
        self.emptyLayer = emptyLayer
    }
}

/// Chain IDs identify a stack of layers (OCI image-spec config.md, "Layer ChainID").
public enum ChainID {
    /// ChainID(L0) = DiffID(L0); ChainID(L0|...|Ln) = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln)).
    public static func chain(_ diffIDs: [Digest]) -> [Digest] {
        var chain: [Digest] = []
        for diffID in diffIDs {
            chain.append(next(parent: chain.last, diffID: diffID))
        }
        return chain
    }

    /// The chain ID of a layer with `diffID` on the chain `parent` (nil for a base layer).
    public static func next(parent: Digest?, diffID: Digest) -> Digest {
        guard let parent else { return diffID }
        return Digest.sha256(of: Array("\(parent) \(diffID)".utf8))
    }
}

/// Dates in JSON state files as `Timestamp` writes and reads them, not with Foundation's ISO 8601
/// strategy, whose first use loads ICU's time zone data (a noticeable part of a `run`).
extension JSONEncoder.DateEncodingStrategy {
    public static let rfc3339 = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(Timestamp.format(date))
    }
}

extension JSONDecoder.DateDecodingStrategy {
    public static let rfc3339 = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad timestamp \(text)")
        }
        return date
    }
}

/// RFC 3339 timestamps as Docker writes them (UTC, nanoseconds, trailing zeros trimmed).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanos = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000_000).rounded())
        var tm = tm()
        var t = time_t(seconds)
        gmtime_r(&t, &tm)
        var text = dateAndTime(tm, separator: "T")
        if nanos > 0 {
            var fraction = zeroPadded(min(nanos, 999_999_999), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// `YYYY-MM-DD<separator>hh:mm:ss` of a broken-down UTC time.
    public static func dateAndTime(_ tm: tm, separator: String) -> String {
        zeroPadded(Int(tm.tm_year) + 1900, 4) + "-" + zeroPadded(Int(tm.tm_mon) + 1, 2) + "-" + zeroPadded(Int(tm.tm_mday), 2)
            + separator + zeroPadded(Int(tm.tm_hour), 2) + ":" + zeroPadded(Int(tm.tm_min), 2) + ":"
            + zeroPadded(Int(tm.tm_sec), 2)
    }

    private static func zeroPadded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Parses RFC 3339 with optional fractional seconds and a `Z` or `±hh:mm` offset.
    public static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        guard scalars.count >= 20 else { return nil }
        func number(_ from: Int, _ length: Int) -> Int? {
            guard from + length <= scalars.count else { return nil }
            var value = 0
            for c in scalars[from..<from + length] {
                guard (48...57).contains(c) else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < scalars.count, (48...57).contains(scalars[index]) {
                fraction += Double(scalars[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < scalars.count, scalars[index] == UInt8(ascii: "+") || scalars[index] == UInt8(ascii: "-") {
            guard let h = number(index + 1, 2), let m = number(index + 4, 2) else { return nil }
            offset = (h * 3600 + m * 60) * (scalars[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        var tm = tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month - 1)
        tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hour)
        tm.tm_min = Int32(minute)
        tm.tm_sec = Int32(second)
        let epoch = timegm(&tm)
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }
}
