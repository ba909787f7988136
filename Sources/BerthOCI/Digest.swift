import Crypto
import Foundation

/// A content identifier: `algorithm ":" encoded`, as defined by the OCI image-spec's descriptor
/// section. Berth computes sha256 and accepts sha256 and sha512 when parsing.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The algorithm component, e.g. `sha256`.
    public let algorithm: String
    /// The lowercase hex encoding of the hash.
    public let encoded: String

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case malformed(String)
        case unsupportedAlgorithm(String)
        case badLength(String)

        public var description: String {
            switch self {
            case .malformed(let s): return "invalid digest \"\(s)\": expected algorithm:hex"
            case .unsupportedAlgorithm(let s): return "invalid digest \"\(s)\": unsupported algorithm"
            case .badLength(let s): return "invalid digest \"\(s)\": wrong length for its algorithm"
            }
        }
    }

    /// Parses and validates a digest string (`sha256:<64 lowercase hex>`).
    public init(parsing string: String) throws {
        guard let colon = string.firstIndex(of: ":") else { throw ParseError.malformed(string) }
        let algorithm = String(string[..<colon])
        let encoded = String(string[string.index(after: colon)...])
        let expectedLength: Int
        switch algorithm {
        case "sha256": expectedLength = 64
        case "sha512": expectedLength = 128
        default:
            // The grammar allows other algorithms; Berth cannot verify them, so it refuses them.
            let grammar = algorithm.allSatisfy { $0.isLowercase || $0.isNumber || "+._-".contains($0) }
            throw grammar && !algorithm.isEmpty ? ParseError.unsupportedAlgorithm(string) : ParseError.malformed(string)
        }
        guard encoded.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw ParseError.malformed(string)
        }
        guard encoded.utf8.count == expectedLength else { throw ParseError.badLength(string) }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    init(algorithm: String, encoded: String) {
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// The sha256 digest of `bytes`.
    public static func sha256<D: DataProtocol>(of bytes: D) -> Digest {
        Digest(algorithm: "sha256", encoded: SHA256.hash(data: bytes).hexString)
    }

    public var description: String { "\(algorithm):\(encoded)" }

    /// The first 12 hex characters, as Docker shows short image IDs.
    public var shortID: String { String(encoded.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}

extension Digest: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: container.decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Incremental sha256 for streamed content.
public struct SHA256Digester: Sendable {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public mutating func update<D: DataProtocol>(_ bytes: D) {
        hasher.update(data: bytes)
    }

    public func finalize() -> Digest {
        Digest(algorithm: "sha256", encoded: hasher.finalize().hexString)
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
