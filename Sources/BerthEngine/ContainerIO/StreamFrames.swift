import NIOCore

/// A container's standard stream, as the Engine API's multiplexed streams number them.
public enum StdStream: UInt8, Sendable {
    case stdin = 0
    case stdout = 1
    case stderr = 2

    /// The stream a json-file log entry came from.
    init(logStream: String) {
        self = logStream == "stderr" ? .stderr : .stdout
    }
}

/// Docker's multiplexed stream (`application/vnd.docker.multiplexed-stream`): each frame is an
/// 8-byte header (the stream, three zero bytes, the payload's length as a big-endian uint32) and
/// the payload. Streams with a terminal are sent raw (`application/vnd.docker.raw-stream`).
public enum StreamFraming {
    public static let multiplexedContentType = "application/vnd.docker.multiplexed-stream"
    public static let rawContentType = "application/vnd.docker.raw-stream"

    /// `payload` as one frame of `stream`.
    public static func frame(_ stream: StdStream, _ payload: ByteBuffer) -> ByteBuffer {
        var framed = ByteBuffer()
        framed.reserveCapacity(8 + payload.readableBytes)
        framed.writeInteger(stream.rawValue)
        framed.writeBytes([0, 0, 0])
        framed.writeInteger(UInt32(payload.readableBytes), endianness: .big)
        var payload = payload
        framed.writeBuffer(&payload)
        return framed
    }
}

/// Docker's detach keys (`--detach-keys`, the API's `detachKeys`): a comma-separated sequence of
/// single characters and `ctrl-<x>` names (moby/term's ToBytes); typed into an attached terminal,
/// the sequence ends the attachment and leaves the container running. Ctrl-P Ctrl-Q by default.
public struct DetachKeys: Sendable, Equatable {
    public let sequence: [UInt8]

    public static let standard = DetachKeys(sequence: [0x10, 0x11])

    init(sequence: [UInt8]) {
        self.sequence = sequence
    }

    /// Parses `text`; nil or empty gives the default sequence.
    public init(parsing text: String?) throws {
        guard let text, !text.isEmpty else {
            self = .standard
            return
        }
        var codes: [UInt8] = []
        for key in text.split(separator: ",", omittingEmptySubsequences: false) {
            if key.utf8.count == 1, let byte = key.utf8.first {
                codes.append(byte)
            } else if let code = Self.controlNames.firstIndex(of: String(key)) {
                codes.append(UInt8(code))
            } else {
                throw EngineError.invalidParameter("Invalid detach keys (\(text)) provided")
            }
        }
        self.init(sequence: codes)
    }

    /// ctrl-@ is 0, ctrl-a 1 … ctrl-z 26, then ctrl-[ ctrl-\ ctrl-] ctrl-^ ctrl-_.
    private static let controlNames: [String] = ["ctrl-@"] + (UInt8(ascii: "a")...UInt8(ascii: "z")).map {
        "ctrl-" + String(UnicodeScalar($0))
    } + ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]

    /// Watches input for the sequence: the bytes to pass on, and whether the sequence was typed
    /// (what follows it is dropped). A partial match is held back until the next input decides it.
    public struct Matcher: Sendable {
        private let sequence: [UInt8]
        private var matched = 0

        public init(_ keys: DetachKeys) {
            sequence = keys.sequence
        }

        public mutating func filter(_ input: some Sequence<UInt8>) -> (forward: [UInt8], detach: Bool) {
            var forward: [UInt8] = []
            for byte in input {
                if byte == sequence[matched] {
                    matched += 1
                    if matched == sequence.count { return (forward, true) }
                    continue
                }
                forward += sequence[0..<matched]
                matched = 0
                if byte == sequence[0] {
                    matched = 1
                    if matched == sequence.count { return (forward, true) }
                } else {
                    forward.append(byte)
                }
            }
            return (forward, false)
        }
    }
}
