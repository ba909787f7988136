import Foundation

/// A request's query parameters, read as dockerd reads them (Go's url.ParseQuery and its
/// httputils helpers).
public struct Query: Sendable {
    private var values: [String: [String]] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let (key, value) = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { part in
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }.pair()
            values[key, default: []].append(value)
        }
    }

    public func string(_ name: String) -> String? { values[name]?.first }

    public func strings(_ name: String) -> [String] { values[name] ?? [] }

    public func has(_ name: String) -> Bool { values[name] != nil }

    /// httputils.BoolValue: anything but "", "0", "no", "false" and "none" is true.
    public func bool(_ name: String) -> Bool {
        guard let value = string(name)?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return !["", "0", "no", "false", "none"].contains(value)
    }

    /// An integer parameter; an unparsable one is refused as dockerd refuses it.
    public func int(_ name: String) throws -> Int? {
        guard let text = string(name), !text.isEmpty else { return nil }
        guard let value = Int(text) else {
            throw APIError(status: .badRequest, message: "invalid value for \(name): \(text)")
        }
        return value
    }

    /// A JSON-encoded parameter (`filters`, `buildargs`, `labels`).
    public func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = string(name), !text.isEmpty else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw APIError(status: .badRequest, message: "invalid \(name) parameter: \(APIError.describe(decoding: error))")
        }
    }
}

private extension Array where Element == String {
    func pair() -> (String, String) { (self[0], count > 1 ? self[1] : "") }
}
