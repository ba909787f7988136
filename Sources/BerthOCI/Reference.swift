/// An image reference with Docker's normalization (distribution/reference's ParseNormalizedNamed):
/// `busybox` is `docker.io/library/busybox:latest`.
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host, with port if any (`docker.io`, `localhost:5000`).
    public let domain: String
    /// The repository path within the registry (`library/busybox`).
    public let path: String
    public let tag: String?
    public let digest: Digest?

    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case empty
        case invalidFormat(String, reason: String)
        case uppercase(String)
        case nameTooLong(String)
        case hexIdentifier(String)

        public var description: String {
            switch self {
            case .empty: return "invalid reference format: repository name must not be empty"
            case .invalidFormat(let s, let reason): return "invalid reference format \"\(s)\": \(reason)"
            case .uppercase(let s): return "invalid reference format: repository name (\(s)) must be lowercase"
            case .nameTooLong(let s): return "invalid reference format \"\(s)\": repository name must not be more than 255 characters"
            case .hexIdentifier(let s): return "invalid repository name (\(s)), cannot specify 64-byte hexadecimal strings"
            }
        }
    }

    public init(domain: String, path: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference the way `docker pull`/`docker tag` do.
    public init(parsing input: String) throws {
        guard !input.isEmpty else { throw ParseError.empty }
        if input.utf8.count == 64, input.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            throw ParseError.hexIdentifier(input)
        }
        var rest = Substring(input)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            do {
                digest = try Digest(parsing: digestText)
            } catch {
                throw ParseError.invalidFormat(input, reason: "\(error)")
            }
            rest = rest[..<at]
        }
        var tag: String?
        // A tag follows the last ":" that comes after the last "/" (a ":" before it is a port).
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tagText = String(rest[rest.index(after: colon)...])
            guard Reference.isValidTag(tagText) else {
                throw ParseError.invalidFormat(input, reason: "invalid tag \"\(tagText)\"")
            }
            tag = tagText
            rest = rest[..<colon]
        }
        let name = String(rest)
        guard !name.isEmpty else { throw ParseError.invalidFormat(input, reason: "repository name must not be empty") }

        var domain = Reference.defaultDomain
        var remainder = name
        if let slash = name.firstIndex(of: "/") {
            let first = String(name[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = first
                remainder = String(name[name.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = Reference.defaultDomain }
        if domain == Reference.defaultDomain, !remainder.contains("/") { remainder = "library/" + remainder }

        guard Reference.isValidDomain(domain) else {
            throw ParseError.invalidFormat(input, reason: "invalid registry host \"\(domain)\"")
        }
        if remainder.contains(where: { $0.isUppercase }) { throw ParseError.uppercase(remainder) }
        guard Reference.isValidPath(remainder) else {
            throw ParseError.invalidFormat(input, reason: "invalid repository name \"\(remainder)\"")
        }
        if domain.utf8.count + 1 + remainder.utf8.count > 255 { throw ParseError.nameTooLong(input) }
        self.init(domain: domain, path: remainder, tag: tag, digest: digest)
    }

    /// `domain/path`, the fully qualified repository name.
    public var name: String { "\(domain)/\(path)" }

    /// The repository name as Docker shows it (`busybox`, `foo/bar`, `localhost:5000/a/b`).
    public var familiarName: String {
        guard domain == Reference.defaultDomain else { return name }
        if path.hasPrefix("library/"), path.split(separator: "/").count == 2 {
            return String(path.dropFirst("library/".count))
        }
        return path
    }

    /// This reference with `latest` when it names neither tag nor digest.
    public var withDefaultTag: Reference {
        tag == nil && digest == nil ? Reference(domain: domain, path: path, tag: Reference.defaultTag, digest: nil) : self
    }

    /// This reference with a different tag and no digest.
    public func with(tag: String) -> Reference {
        Reference(domain: domain, path: path, tag: tag, digest: nil)
    }

    /// The repository alone.
    public var repository: Reference { Reference(domain: domain, path: path, tag: nil, digest: nil) }

    public var description: String { format(name) }

    /// The short form Docker prints (`busybox:latest`).
    public var familiarString: String { format(familiarName) }

    private func format(_ name: String) -> String {
        var text = name
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest.description }
        return text
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWordByte(first) else { return false }
        return bytes.dropFirst().allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// path-component ("/" path-component)*, component = alnum (separator alnum)*, separator = [_.] | __ | -+
    static func isValidPath(_ path: String) -> Bool {
        path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            let bytes = Array(component.utf8)
            guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
                return false
            }
            var index = 0
            while index < bytes.count {
                if isLowerAlnum(bytes[index]) { index += 1; continue }
                var end = index
                while end < bytes.count, !isLowerAlnum(bytes[end]) { end += 1 }
                let separator = String(decoding: bytes[index..<end], as: UTF8.self)
                let isDashes = separator.allSatisfy { $0 == "-" }
                guard separator == "." || separator == "_" || separator == "__" || isDashes else { return false }
                index = end
            }
            return true
        }
    }

    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if let colon = domain.lastIndex(of: ":"), !domain.hasSuffix("]") {
            let port = domain[domain.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            host = domain[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !host.isEmpty && host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
            return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (97...122).contains(c) || (48...57).contains(c) }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (65...90).contains(c) }
    private static func isWordByte(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }
}
