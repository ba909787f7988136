import BerthKubeAPI
import Foundation

/// The WebSocket subprotocols of exec and attach (Kubernetes' channel protocols): every
/// message starts with its channel, 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize. The
/// `base64` ones send text messages whose channel is an ASCII digit and whose payload is
/// base64. From v4 on the error channel carries a JSON `Status` (before, the error's text);
/// v5 adds the CLOSE signal, a message `[255, channel]` that half-closes a channel (stdin's end).
public enum KubeChannelProtocol: String, Sendable, CaseIterable {
    case v5 = "v5.channel.k8s.io"
    case v4 = "v4.channel.k8s.io"
    case v4Base64 = "v4.base64.channel.k8s.io"
    case v1 = "channel.k8s.io"
    case v1Base64 = "base64.channel.k8s.io"
    /// A client that offers no subprotocol gets v1's binary framing, and no protocol header.
    case unnamed = ""

    public var isBase64: Bool { self == .v4Base64 || self == .v1Base64 }
    var statusIsJSON: Bool { [.v5, .v4, .v4Base64].contains(self) }
    var hasCloseSignal: Bool { self == .v5 }

    /// The first offered subprotocol served (the client lists them in its order of preference);
    /// nil when none is. `offered` are the values of the Sec-WebSocket-Protocol headers.
    public static func negotiate(_ offered: [String]) -> KubeChannelProtocol? {
        let names = offered.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty { return .unnamed }
        return names.lazy.compactMap { KubeChannelProtocol(rawValue: $0) }.first { $0 != .unnamed }
    }

    /// Why the offer cannot be served, as the apiserver says it.
    static func unsupported(_ offered: [String]) -> KubeAPIError {
        let served = allCases.filter { $0 != .unnamed }.map(\.rawValue)
        return .badRequest("requested protocol(s) are not supported: [\(offered.joined(separator: " "))]; supports [\(served.joined(separator: " "))]")
    }
}

/// The channels' message framing, one WebSocket message per chunk.
public enum KubeChannelFraming {
    public static let stdin: UInt8 = 0
    public static let stdout: UInt8 = 1
    public static let stderr: UInt8 = 2
    public static let error: UInt8 = 3
    public static let resize: UInt8 = 4
    /// v5's CLOSE signal.
    public static let close: UInt8 = 255

    /// A message from the client.
    public enum Message: Sendable, Equatable {
        case data(channel: UInt8, [UInt8])
        /// v5: the client closed this channel (stdin: its end of input).
        case close(channel: UInt8)
    }

    /// `payload` on `channel`: the bytes of one message (its text for the base64 protocols).
    public static func encode(channel: UInt8, _ payload: [UInt8], protocol: KubeChannelProtocol) -> [UInt8] {
        guard `protocol`.isBase64 else { return [channel] + payload }
        return [UInt8(ascii: "0") + channel] + Array(Data(payload).base64EncodedString().utf8)
    }

    /// A client's message; nil for one that is empty or malformed (ignored, as the apiserver does).
    public static func decode(_ message: [UInt8], protocol: KubeChannelProtocol) -> Message? {
        guard let first = message.first else { return nil }
        if `protocol`.hasCloseSignal, first == close {
            return message.count >= 2 ? .close(channel: message[1]) : nil
        }
        guard `protocol`.isBase64 else { return .data(channel: first, Array(message.dropFirst())) }
        guard first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"),
              let decoded = Data(base64Encoded: Data(message.dropFirst())) else { return nil }
        return .data(channel: first - UInt8(ascii: "0"), Array(decoded))
    }

    /// A resize message's size (`{"Width":…,"Height":…}`); nil if it is not one.
    public static func terminalSize(_ payload: [UInt8]) -> KubeTerminalSize? {
        try? JSONDecoder().decode(KubeTerminalSize.self, from: Data(payload))
    }

    /// What the error channel says at the end: v4's Status, or before v4 a failure's message
    /// (nothing for success); nil when nothing is sent.
    public static func errorMessage(_ exit: KubeStreamExit, protocol: KubeChannelProtocol) -> [UInt8]? {
        if `protocol`.statusIsJSON { return Array(exit.status.compact.utf8) }
        guard case .object(let members) = exit.status, exit != .success,
              case .string(let message)? = members.first(where: { $0.0 == "message" })?.1 else { return nil }
        return Array(message.utf8)
    }
}
