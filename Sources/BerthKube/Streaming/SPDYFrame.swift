import Foundation

/// A SPDY/3.1 frame (draft 3.1, section 2.2). Control frames start with the control bit, version 3
/// and a type; data frames with a 31-bit stream id. Both carry 8 bits of flags and a 24-bit length.
public enum SPDYFrame: Sendable, Equatable {
    case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headers: SPDYHeaderBlock)
    case synReply(streamID: UInt32, flags: UInt8, headers: SPDYHeaderBlock)
    case rstStream(streamID: UInt32, status: UInt32)
    case settings(flags: UInt8, entries: [SPDYSetting])
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, flags: UInt8, headers: SPDYHeaderBlock)
    case windowUpdate(streamID: UInt32, delta: UInt32)
    case data(streamID: UInt32, flags: UInt8, payload: [UInt8])

    /// FIN on SYN_STREAM, SYN_REPLY, HEADERS and data frames: the sender sends nothing more on the stream.
    public static let flagFin: UInt8 = 0x01
    /// UNIDIRECTIONAL on SYN_STREAM: the receiver must not send on the stream.
    public static let flagUnidirectional: UInt8 = 0x02

    static let version: UInt16 = 3
    /// The largest payload a frame's 24-bit length allows.
    public static let maximumLength = (1 << 24) - 1

    enum ControlType: UInt16 {
        case synStream = 1, synReply, rstStream, settings, ping = 6, goAway, headers, windowUpdate
    }
}

/// One SETTINGS entry: flags (8 bits), id (24 bits), value.
public struct SPDYSetting: Sendable, Equatable {
    public var flags: UInt8
    public var id: UInt32
    public var value: UInt32

    public static let initialWindowSize: UInt32 = 7
}

/// RST_STREAM and GOAWAY status codes.
public enum SPDYStatus {
    public static let protocolError: UInt32 = 1
    public static let invalidStream: UInt32 = 2
    public static let refusedStream: UInt32 = 3
    public static let cancel: UInt32 = 5
    public static let internalError: UInt32 = 6
    public static let streamInUse: UInt32 = 8
    public static let streamAlreadyClosed: UInt32 = 9
}

public enum SPDYError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case compression(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed SPDY frame: \(reason)"
        case .compression(let reason): "SPDY header compression: \(reason)"
        }
    }
}

/// Writes frames for one direction of a session: header blocks go through the direction's one
/// compressor, so frames must be encoded in the order they are sent.
final class SPDYFrameEncoder {
    private let compressor: SPDYHeaderCompressor

    init() throws(SPDYError) {
        compressor = try SPDYHeaderCompressor()
    }

    func encode(_ frame: SPDYFrame) throws(SPDYError) -> [UInt8] {
        var body: [UInt8] = []
        let type: SPDYFrame.ControlType
        let flags: UInt8
        switch frame {
        case .data(let streamID, let frameFlags, let payload):
            guard payload.count <= SPDYFrame.maximumLength else { throw .malformed("data frame of \(payload.count) bytes") }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(8 + payload.count)
            bytes.appendBigEndian(streamID & 0x7fff_ffff)
            bytes.appendBigEndian(UInt32(frameFlags) << 24 | UInt32(payload.count))
            bytes += payload
            return bytes
        case .synStream(let streamID, let associatedTo, let priority, let frameFlags, let headers):
            (type, flags) = (.synStream, frameFlags)
            body.appendBigEndian(streamID & 0x7fff_ffff)
            body.appendBigEndian(associatedTo & 0x7fff_ffff)
            body += [priority << 5, 0]
            body += try compressor.compress(headers)
        case .synReply(let streamID, let frameFlags, let headers):
            (type, flags) = (.synReply, frameFlags)
            body.appendBigEndian(streamID & 0x7fff_ffff)
            body += try compressor.compress(headers)
        case .rstStream(let streamID, let status):
            (type, flags) = (.rstStream, 0)
            body.appendBigEndian(streamID & 0x7fff_ffff)
            body.appendBigEndian(status)
        case .settings(let frameFlags, let entries):
            (type, flags) = (.settings, frameFlags)
            body.appendBigEndian(UInt32(entries.count))
            for entry in entries {
                body.appendBigEndian(UInt32(entry.flags) << 24 | entry.id & 0xff_ffff)
                body.appendBigEndian(entry.value)
            }
        case .ping(let id):
            (type, flags) = (.ping, 0)
            body.appendBigEndian(id)
        case .goAway(let lastGoodStreamID, let status):
            (type, flags) = (.goAway, 0)
            body.appendBigEndian(lastGoodStreamID & 0x7fff_ffff)
            body.appendBigEndian(status)
        case .headers(let streamID, let frameFlags, let headers):
            (type, flags) = (.headers, frameFlags)
            body.appendBigEndian(streamID & 0x7fff_ffff)
            body += try compressor.compress(headers)
        case .windowUpdate(let streamID, let delta):
            (type, flags) = (.windowUpdate, 0)
            body.appendBigEndian(streamID & 0x7fff_ffff)
            body.appendBigEndian(delta & 0x7fff_ffff)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + body.count)
        bytes.appendBigEndian(0x8000 | SPDYFrame.version)
        bytes.appendBigEndian(type.rawValue)
        bytes.appendBigEndian(UInt32(flags) << 24 | UInt32(body.count))
        return bytes + body
    }
}

/// Reads frames for one direction of a session from bytes as they arrive, in any split.
final class SPDYFrameDecoder {
    private let decompressor: SPDYHeaderDecompressor
    private var buffer: [UInt8] = []
    private var start = 0

    /// The largest frame accepted: a data frame's payload is bounded by the peer's writes (client-go
    /// writes at most 32 KiB at a time); control frames are small.
    static let maximumFrameLength = SPDYFrame.maximumLength

    init() throws(SPDYError) {
        decompressor = try SPDYHeaderDecompressor()
    }

    func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil until more bytes arrive. Frame types SPDY/3.1 does not
    /// define are skipped, as the draft asks.
    func next() throws(SPDYError) -> SPDYFrame? {
        while buffer.count - start >= 8 {
            let word0 = read32(at: start)
            let word1 = read32(at: start + 4)
            let flags = UInt8(word1 >> 24)
            let length = Int(word1 & 0xff_ffff)
            guard buffer.count - start >= 8 + length else { return nil }
            let body = Array(buffer[(start + 8)..<(start + 8 + length)])
            start += 8 + length
            if word0 & 0x8000_0000 == 0 {
                return .data(streamID: word0 & 0x7fff_ffff, flags: flags, payload: body)
            }
            let version = UInt16((word0 >> 16) & 0x7fff)
            guard version == SPDYFrame.version else { throw .malformed("unsupported SPDY version \(version)") }
            guard let type = SPDYFrame.ControlType(rawValue: UInt16(word0 & 0xffff)) else { continue }
            return try control(type, flags: flags, body: body)
        }
        return nil
    }

    private func read32(at offset: Int) -> UInt32 {
        UInt32(buffer[offset]) << 24 | UInt32(buffer[offset + 1]) << 16 | UInt32(buffer[offset + 2]) << 8 | UInt32(buffer[offset + 3])
    }

    private func control(_ type: SPDYFrame.ControlType, flags: UInt8, body: [UInt8]) throws(SPDYError) -> SPDYFrame {
        func word(_ index: Int) throws(SPDYError) -> UInt32 {
            guard body.count >= 4 * (index + 1) else { throw .malformed("short \(type) frame") }
            let offset = 4 * index
            return UInt32(body[offset]) << 24 | UInt32(body[offset + 1]) << 16 | UInt32(body[offset + 2]) << 8 | UInt32(body[offset + 3])
        }
        switch type {
        case .synStream:
            guard body.count >= 10 else { throw .malformed("short SYN_STREAM frame") }
            let headers = try decompressor.decompress(Array(body[10...]))
            return .synStream(streamID: try word(0) & 0x7fff_ffff, associatedTo: try word(1) & 0x7fff_ffff,
                              priority: body[8] >> 5, flags: flags, headers: headers)
        case .synReply:
            let streamID = try word(0) & 0x7fff_ffff
            return .synReply(streamID: streamID, flags: flags, headers: try decompressor.decompress(Array(body[4...])))
        case .headers:
            let streamID = try word(0) & 0x7fff_ffff
            return .headers(streamID: streamID, flags: flags, headers: try decompressor.decompress(Array(body[4...])))
        case .rstStream:
            return .rstStream(streamID: try word(0) & 0x7fff_ffff, status: try word(1))
        case .settings:
            let count = Int(try word(0))
            guard body.count == 4 + 8 * count else { throw .malformed("SETTINGS length does not match its \(count) entries") }
            var entries: [SPDYSetting] = []
            for index in 0..<count {
                let key = try word(1 + 2 * index)
                entries.append(SPDYSetting(flags: UInt8(key >> 24), id: key & 0xff_ffff, value: try word(2 + 2 * index)))
            }
            return .settings(flags: flags, entries: entries)
        case .ping:
            return .ping(id: try word(0))
        case .goAway:
            return .goAway(lastGoodStreamID: try word(0) & 0x7fff_ffff, status: body.count >= 8 ? try word(1) : 0)
        case .windowUpdate:
            return .windowUpdate(streamID: try word(0) & 0x7fff_ffff, delta: try word(1) & 0x7fff_ffff)
        }
    }
}
