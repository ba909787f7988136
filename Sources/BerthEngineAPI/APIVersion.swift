/// An Engine API version, `1.41`: compared as numbers, not as text.
public struct APIVersion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    /// The newest version the docker 28 client speaks.
    public static let current = APIVersion(1, 50)
    /// The oldest dockerd 28 accepts: docker-compose 1.29 asks for the version of its file format
    /// (1.38 for a 3.7 file), older than 1.41.
    public static let minimum = APIVersion(1, 24)

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// The version of a path that starts with one (`/v1.47/containers/json`) and the rest of it.
    static func prefix(of path: String) -> (APIVersion, String)? {
        guard path.hasPrefix("/v") else { return nil }
        let afterV = path.dropFirst(2)
        let end = afterV.firstIndex(of: "/") ?? afterV.endIndex
        guard let version = APIVersion(afterV[..<end]) else { return nil }
        return (version, String(afterV[end...]))
    }
}
