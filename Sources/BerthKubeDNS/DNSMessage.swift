import Foundation

/// DNS messages as RFC 1035 §4 lays them out (header, question, answer, authority and additional
/// sections), with name compression (§4.1.4), the record types the cluster DNS answers with, and
/// EDNS0's OPT pseudo-record (RFC 6891) carried as an opaque record. Names are dotted strings
/// without the final dot ("" is the root); their case is kept as received.

/// A record type (RFC 1035 §3.2.2 and later RFCs).
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let ptr = DNSType(rawValue: 12)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    public static let opt = DNSType(rawValue: 41)
    public static let any = DNSType(rawValue: 255)

    public var description: String {
        let names: [UInt16: String] = [1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT", 255: "ANY"]
        return names[rawValue] ?? "TYPE\(rawValue)"
    }
}

/// A response code (RFC 1035 §4.1.1).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)
}

public struct DNSQuestion: Equatable, Sendable {
    public var name: String
    public var type: DNSType
    /// IN (1) for every question the cluster DNS answers.
    public var `class`: UInt16

    public init(name: String, type: DNSType, class: UInt16 = 1) {
        self.name = name
        self.type = type
        self.class = `class`
    }
}

/// What a record holds, decoded for the types Berth answers with; other types keep their bytes.
public enum DNSRecordData: Equatable, Sendable {
    case a([UInt8])
    case aaaa([UInt8])
    case ns(String)
    case cname(String)
    case ptr(String)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    case soa(mname: String, rname: String, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32)
    case txt([String])
    case raw([UInt8])
}

public struct DNSRecord: Equatable, Sendable {
    public var name: String
    public var type: DNSType
    /// IN (1), or for OPT the requester's UDP payload size.
    public var `class`: UInt16
    /// The time to live, or for OPT the extended RCODE, version and flags.
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, type: DNSType, class: UInt16 = 1, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.class = `class`
        self.ttl = ttl
        self.data = data
    }

    /// An A record for a dotted IPv4 address, or AAAA for an IPv6 one; nil for neither.
    public static func address(name: String, ttl: UInt32, _ address: String) -> DNSRecord? {
        if let bytes = IPAddressText.ipv4(address) { return DNSRecord(name: name, type: .a, ttl: ttl, data: .a(bytes)) }
        if let bytes = IPAddressText.ipv6(address) { return DNSRecord(name: name, type: .aaaa, ttl: ttl, data: .aaaa(bytes)) }
        return nil
    }
}

public struct DNSMessage: Equatable, Sendable {
    public var id: UInt16
    public var isResponse = false
    public var opcode: UInt8 = 0
    public var authoritative = false
    public var truncated = false
    public var recursionDesired = false
    public var recursionAvailable = false
    /// RFC 4035's AD and CD bits (dig sets AD in queries).
    public var authenticData = false
    public var checkingDisabled = false
    public var responseCode = DNSResponseCode.noError
    public var questions: [DNSQuestion] = []
    public var answers: [DNSRecord] = []
    public var authorities: [DNSRecord] = []
    public var additionals: [DNSRecord] = []

    public init(id: UInt16) { self.id = id }

    /// The EDNS0 OPT pseudo-record of the additional section, if any.
    public var opt: DNSRecord? { additionals.first { $0.type == .opt } }

    public enum DecodingError: Error, Equatable {
        case truncated
        case badName
        case badRecord(DNSType)
    }

    // MARK: Decoding

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = Reader(bytes: bytes)
        id = try reader.u16()
        let flags = try reader.u16()
        isResponse = flags & 0x8000 != 0
        opcode = UInt8((flags >> 11) & 0xF)
        authoritative = flags & 0x0400 != 0
        truncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        recursionAvailable = flags & 0x0080 != 0
        authenticData = flags & 0x0020 != 0
        checkingDisabled = flags & 0x0010 != 0
        responseCode = DNSResponseCode(rawValue: UInt8(flags & 0xF))
        let counts = try (reader.u16(), reader.u16(), reader.u16(), reader.u16())
        for _ in 0..<counts.0 {
            questions.append(DNSQuestion(name: try reader.name(), type: DNSType(rawValue: try reader.u16()), class: try reader.u16()))
        }
        for _ in 0..<counts.1 { answers.append(try reader.record()) }
        for _ in 0..<counts.2 { authorities.append(try reader.record()) }
        for _ in 0..<counts.3 { additionals.append(try reader.record()) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(DecodingError) -> UInt8 {
            guard offset < bytes.count else { throw .truncated }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(DecodingError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

        mutating func u32() throws(DecodingError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

        mutating func take(_ count: Int) throws(DecodingError) -> [UInt8] {
            guard count >= 0, offset + count <= bytes.count else { throw .truncated }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        /// A name at the reading position, following compression pointers (which must point
        /// backwards, so a loop cannot happen).
        mutating func name() throws(DecodingError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var length = 0
            while true {
                guard position < bytes.count else { throw .truncated }
                let size = Int(bytes[position])
                if size & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw .truncated }
                    let target = (size & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < position else { throw .badName }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                    continue
                }
                guard size & 0xC0 == 0 else { throw .badName }
                position += 1
                if size == 0 { break }
                guard position + size <= bytes.count else { throw .truncated }
                length += size + 1
                guard length <= 255 else { throw .badName }
                labels.append(String(decoding: bytes[position..<position + size], as: UTF8.self))
                position += size
            }
            if !jumped { offset = position }
            return labels.joined(separator: ".")
        }

        mutating func record() throws(DecodingError) -> DNSRecord {
            let name = try name()
            let type = DNSType(rawValue: try u16())
            let recordClass = try u16()
            let ttl = try u32()
            let length = Int(try u16())
            let end = offset + length
            guard end <= bytes.count else { throw .truncated }
            let data: DNSRecordData
            switch type {
            case .a where length == 4: data = .a(try take(4))
            case .aaaa where length == 16: data = .aaaa(try take(16))
            case .ns: data = .ns(try self.name())
            case .cname: data = .cname(try self.name())
            case .ptr: data = .ptr(try self.name())
            case .srv: data = .srv(priority: try u16(), weight: try u16(), port: try u16(), target: try self.name())
            case .soa:
                data = .soa(mname: try self.name(), rname: try self.name(), serial: try u32(), refresh: try u32(),
                            retry: try u32(), expire: try u32(), minimum: try u32())
            case .txt:
                var strings: [String] = []
                while offset < end {
                    let size = Int(try u8())
                    strings.append(String(decoding: try take(size), as: UTF8.self))
                }
                data = .txt(strings)
            default: data = .raw(try take(length))
            }
            guard offset == end else { throw .badRecord(type) }
            return DNSRecord(name: name, type: type, class: recordClass, ttl: ttl, data: data)
        }
    }

    // MARK: Encoding

    /// The message on the wire. With `limit` (a UDP response's room), records that do not fit
    /// are left out from the end, the OPT record kept, and the TC bit set (RFC 1035 §4.2.1,
    /// RFC 6891 §7).
    public func encoded(limit: Int? = nil) -> [UInt8] {
        let whole = encode(self)
        guard let limit, whole.count > limit else { return whole }
        var cut = self
        cut.truncated = true
        let opt = cut.opt
        cut.additionals = opt.map { [$0] } ?? []
        var bytes = encode(cut)
        while bytes.count > limit, !(cut.answers.isEmpty && cut.authorities.isEmpty) {
            if !cut.authorities.isEmpty { cut.authorities.removeLast() } else { cut.answers.removeLast() }
            bytes = encode(cut)
        }
        return bytes
    }

    private func encode(_ message: DNSMessage) -> [UInt8] {
        var writer = Writer()
        writer.u16(message.id)
        var flags: UInt16 = UInt16(message.opcode & 0xF) << 11 | UInt16(message.responseCode.rawValue & 0xF)
        if message.isResponse { flags |= 0x8000 }
        if message.authoritative { flags |= 0x0400 }
        if message.truncated { flags |= 0x0200 }
        if message.recursionDesired { flags |= 0x0100 }
        if message.recursionAvailable { flags |= 0x0080 }
        if message.authenticData { flags |= 0x0020 }
        if message.checkingDisabled { flags |= 0x0010 }
        writer.u16(flags)
        for count in [message.questions.count, message.answers.count, message.authorities.count, message.additionals.count] {
            writer.u16(UInt16(count))
        }
        for question in message.questions {
            writer.name(question.name)
            writer.u16(question.type.rawValue)
            writer.u16(question.class)
        }
        for record in message.answers + message.authorities + message.additionals { writer.record(record) }
        return writer.bytes
    }

    private struct Writer {
        var bytes: [UInt8] = []
        /// Where each name suffix (lowercased) was written, for compression pointers.
        var offsets: [String: Int] = [:]

        mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }

        mutating func u32(_ value: UInt32) {
            u16(UInt16(value >> 16))
            u16(UInt16(value & 0xFFFF))
        }

        mutating func name(_ name: String) {
            var labels = name.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
            while !labels.isEmpty {
                let suffix = labels.joined(separator: ".").lowercased()
                if let offset = offsets[suffix] {
                    u16(0xC000 | UInt16(offset))
                    return
                }
                if bytes.count < 0x3FFF { offsets[suffix] = bytes.count }
                let label = Array(labels.removeFirst().utf8.prefix(63))
                bytes.append(UInt8(label.count))
                bytes += label
            }
            bytes.append(0)
        }

        mutating func record(_ record: DNSRecord) {
            name(record.name)
            u16(record.type.rawValue)
            u16(record.class)
            u32(record.ttl)
            let lengthAt = bytes.count
            u16(0)
            switch record.data {
            case .a(let address), .aaaa(let address), .raw(let address): bytes += address
            case .ns(let target), .cname(let target), .ptr(let target): name(target)
            case .srv(let priority, let weight, let port, let target):
                u16(priority)
                u16(weight)
                u16(port)
                // RFC 2782 forbids compressing the target; resolvers accept it uncompressed only.
                for label in target.split(separator: ".") {
                    let bytesOfLabel = Array(label.utf8.prefix(63))
                    bytes.append(UInt8(bytesOfLabel.count))
                    bytes += bytesOfLabel
                }
                bytes.append(0)
            case .soa(let mname, let rname, let serial, let refresh, let retry, let expire, let minimum):
                name(mname)
                name(rname)
                for value in [serial, refresh, retry, expire, minimum] { u32(value) }
            case .txt(let strings):
                for string in strings {
                    let text = Array(string.utf8.prefix(255))
                    bytes.append(UInt8(text.count))
                    bytes += text
                }
            }
            let length = bytes.count - lengthAt - 2
            bytes[lengthAt] = UInt8(length >> 8)
            bytes[lengthAt + 1] = UInt8(length & 0xFF)
        }
    }
}

/// Parsing of textual addresses into their bytes (and back), without the C library.
public enum IPAddressText {
    public static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { part -> UInt8? in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII) else { return nil }
            return UInt8(part)
        }
        return bytes.count == 4 ? bytes : nil
    }

    public static func ipv6(_ text: String) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            let values = part.split(separator: ":", omittingEmptySubsequences: false).map { UInt16($0, radix: 16) }
            return values.contains(nil) ? nil : values.compactMap { $0 }
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
