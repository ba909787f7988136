import Foundation
import BerthOCI

/// The error codes of the OCI distribution-spec v1.1 (and Docker's registry v2 API, which adds
/// TOOMANYREQUESTS), each with the HTTP status a registry answers it with.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    case blobUnknown = "BLOB_UNKNOWN"
    case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
    case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
    case digestInvalid = "DIGEST_INVALID"
    case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
    case manifestInvalid = "MANIFEST_INVALID"
    case manifestUnknown = "MANIFEST_UNKNOWN"
    case nameInvalid = "NAME_INVALID"
    case nameUnknown = "NAME_UNKNOWN"
    case sizeInvalid = "SIZE_INVALID"
    case unauthorized = "UNAUTHORIZED"
    case denied = "DENIED"
    case unsupported = "UNSUPPORTED"
    case tooManyRequests = "TOOMANYREQUESTS"

    /// The status distribution answers with for this code.
    public var httpStatus: Int {
        switch self {
        case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown: return 404
        case .blobUploadInvalid, .digestInvalid, .manifestBlobUnknown, .manifestInvalid, .nameInvalid,
             .sizeInvalid:
            return 400
        case .unauthorized: return 401
        case .denied: return 403
        case .unsupported: return 405
        case .tooManyRequests: return 429
        }
    }

    /// The spec's short description, used as the message when there is nothing more specific.
    public var defaultMessage: String {
        switch self {
        case .blobUnknown: return "blob unknown to registry"
        case .blobUploadInvalid: return "blob upload invalid"
        case .blobUploadUnknown: return "blob upload unknown to registry"
        case .digestInvalid: return "provided digest did not match uploaded content"
        case .manifestBlobUnknown: return "manifest references a blob unknown to the registry"
        case .manifestInvalid: return "manifest invalid"
        case .manifestUnknown: return "manifest unknown"
        case .nameInvalid: return "invalid repository name"
        case .nameUnknown: return "repository name not known to registry"
        case .sizeInvalid: return "provided length did not match content length"
        case .unauthorized: return "authentication required"
        case .denied: return "requested access to the resource is denied"
        case .unsupported: return "the operation is unsupported"
        case .tooManyRequests: return "too many requests"
        }
    }
}

/// One entry of an error body. `code` stays a string so that codes a registry invents still decode.
public struct RegistryErrorDetail: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public var detail: JSONValue?

    public init(code: ErrorCode, message: String? = nil, detail: JSONValue? = nil) {
        self.code = code.rawValue
        self.message = message ?? code.defaultMessage
        self.detail = detail
    }

    public var knownCode: ErrorCode? { ErrorCode(rawValue: code) }
}

/// The body a registry sends with a 4xx or 5xx answer: `{"errors":[{"code","message","detail"}]}`.
public struct RegistryErrorBody: Codable, Sendable, Equatable {
    public var errors: [RegistryErrorDetail]

    public init(errors: [RegistryErrorDetail]) { self.errors = errors }

    public init(_ code: ErrorCode, message: String? = nil, detail: JSONValue? = nil) {
        errors = [RegistryErrorDetail(code: code, message: message, detail: detail)]
    }

    /// The body as JSON, as sent on the wire, with its keys in one order (Foundation's encoder
    /// otherwise writes them in hash order, different from one error to the next).
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data(#"{"errors":[]}"#.utf8)
    }

    /// Decodes a body; nil when the bytes are not an error body (a proxy's HTML page, say).
    public static func decode(_ data: Data) -> RegistryErrorBody? {
        try? JSONDecoder().decode(RegistryErrorBody.self, from: data)
    }

    /// "CODE: message; CODE: message", for a one-line client error.
    public var summary: String {
        errors.map { "\($0.code): \($0.message)" }.joined(separator: "; ")
    }
}
