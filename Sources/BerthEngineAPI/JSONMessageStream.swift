import BerthEngine
import Foundation
import NIOCore
import NIOHTTP1

/// A JSON progress stream as dockerd writes one (pull, push, load, build): messages of
/// `status`/`id`/`progressDetail`, `stream`, `aux`, and `errorDetail` for a failure after the
/// stream began. The response starts with the first message, so a failure before any answers
/// with an error status and `{"message": …}` instead, as dockerd's does.
final class JSONMessageStream: Sendable {
    let response: ResponseWriter

    init(_ response: ResponseWriter) {
        self.response = response
    }

    var hasStarted: Bool { response.hasStarted }

    func write(_ message: JSONMessage) async throws {
        if !response.hasStarted { try await response.startStream(contentType: "application/json") }
        try await response.write(ByteBuffer(bytes: try JSONMessage.encoder.encode(message) + Array("\r\n".utf8)))
    }

    /// Reports a failure: in the stream once it began, otherwise as the response's error.
    func fail(_ error: any Error, code: Int? = nil) async throws {
        guard response.hasStarted else { throw error }
        let message = (error as? APIError)?.message ?? "\(error)"
        try await write(JSONMessage(error: message, code: code))
    }
}

/// One message of dockerd's JSON stream (moby's jsonstream.Message); absent fields are left out.
struct JSONMessage: Encodable {
    struct ProgressDetail: Encodable {
        var current: Int64?
        var total: Int64?
    }

    struct ErrorDetail: Encodable {
        var code: Int?
        var message: String
    }

    var stream: String?
    var status: String?
    var progressDetail: ProgressDetail?
    var id: String?
    var errorDetail: ErrorDetail?
    var error: String?
    var aux: [String: JSONAny]?

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Sorted, so each message reads the same every time (a JSON object's order means nothing).
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(stream: String) {
        self.stream = stream
    }

    init(status: String, id: String? = nil) {
        self.status = status
        self.id = id
    }

    init(error: String, code: Int? = nil) {
        errorDetail = ErrorDetail(code: code, message: error)
        self.error = error
    }

    init(aux: [String: JSONAny]) {
        self.aux = aux
    }

    /// A pull's or push's message.
    init(_ message: TransferMessage) {
        if let manifest = message.aux {
            // A push's manifest comes with an empty progressDetail, as dockerd's does.
            self.init(aux: ["Tag": .string(manifest.tag), "Digest": .string(manifest.digest.description), "Size": .int(Int64(manifest.size))])
            progressDetail = ProgressDetail()
            return
        }
        self.init(status: message.status, id: message.id)
        // Layer messages carry progressDetail, empty unless bytes are counted, as dockerd's do.
        if message.id != nil, !message.status.hasPrefix("Pulling from") {
            progressDetail = ProgressDetail(current: message.progress?.current, total: message.progress?.total)
        }
    }

    enum CodingKeys: String, CodingKey {
        case stream, status, progressDetail, id, errorDetail, error, aux
    }
}

/// A JSON scalar for `aux` members.
enum JSONAny: Encodable {
    case string(String)
    case int(Int64)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        }
    }
}
