/// Layout and field codecs of the 512-byte ustar header block (POSIX.1-1988, with the GNU and
/// PAX extensions of POSIX.1-2001).
enum TarHeader {
    static let blockSize = 512

    enum Field {
        static let name = 0..<100
        static let mode = 100..<108
        static let uid = 108..<116
        static let gid = 116..<124
        static let size = 124..<136
        static let mtime = 136..<148
        static let checksum = 148..<156
        static let typeFlag = 156
        static let linkName = 157..<257
        static let magic = 257..<263
        static let version = 263..<265
        static let userName = 265..<297
        static let groupName = 297..<329
        static let deviceMajor = 329..<337
        static let deviceMinor = 337..<345
        static let prefix = 345..<500
    }

    /// Sum of the header bytes with the checksum field counted as spaces, unsigned and signed
    /// (some old writers used signed chars).
    static func checksums(_ block: UnsafeRawBufferPointer) -> (unsigned: Int, signed: Int) {
        var unsigned = 0
        var signed = 0
        for i in 0..<blockSize {
            let byte = Field.checksum.contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        return (unsigned, signed)
    }

    static func isZeroBlock(_ block: UnsafeRawBufferPointer) -> Bool {
        block.allSatisfy { $0 == 0 }
    }

    /// A NUL-terminated string field.
    static func string(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        let field = block[range]
        let end = field.firstIndex(of: 0) ?? range.upperBound
        return String(decoding: block[range.lowerBound..<end], as: UTF8.self)
    }

    /// A numeric field: octal text, or base-256 two's complement when the high bit of the first byte is set.
    static func number(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        let first = block[range.lowerBound]
        if first & 0x80 != 0 {
            // Base-256: the remaining bits are a big-endian two's complement number.
            var value: Int64 = first & 0x40 != 0 ? -1 : 0
            value = (value << 6) | Int64(first & 0x3f)
            for i in (range.lowerBound + 1)..<range.upperBound {
                guard value.leadingZeroBitCount > 8 || value < 0 else { return nil }
                value = (value << 8) | Int64(block[i])
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for i in range {
            let byte = block[i]
            if byte == 0 { break }
            if byte == UInt8(ascii: " ") {
                if seenDigit { break }
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { return nil }
            guard value < Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    /// Writes `bytes` into a field, truncated to fit; the remainder stays NUL.
    static func setBytes(_ block: inout [UInt8], _ range: Range<Int>, _ bytes: some Collection<UInt8>) {
        var index = range.lowerBound
        for byte in bytes.prefix(range.count) {
            block[index] = byte
            index += 1
        }
    }

    /// Largest value an octal field of `width` bytes holds (width-1 digits plus a NUL).
    static func octalLimit(_ range: Range<Int>) -> Int64 {
        (Int64(1) << (3 * Int64(range.count - 1))) - 1
    }

    /// Writes `value` as zero-padded octal followed by a NUL.
    static func setOctal(_ block: inout [UInt8], _ range: Range<Int>, _ value: Int64) {
        var value = value
        var index = range.upperBound - 2
        block[range.upperBound - 1] = 0
        while index >= range.lowerBound {
            block[index] = UInt8(ascii: "0") + UInt8(value & 7)
            value >>= 3
            index -= 1
        }
    }

    /// Stores the checksum as six octal digits, NUL, space (the form GNU tar writes).
    static func setChecksum(_ block: inout [UInt8]) {
        let sum = block.withUnsafeBytes { checksums($0).unsigned }
        setOctal(&block, 148..<155, Int64(sum))
        block[155] = UInt8(ascii: " ")
    }
}

/// PAX extended header records (`"%d %s=%s\n"`, the length counting the whole record).
enum PAXRecords {
    static func parse(_ data: [UInt8], entry: String?) throws -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        var index = 0
        while index < data.count {
            if data[index] == 0 { break }  // some writers pad with NULs
            guard let space = data[index...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: data[index..<space], as: UTF8.self)),
                length > space - index + 1, index + length <= data.count,
                data[index + length - 1] == UInt8(ascii: "\n"),
                let equals = data[(space + 1)..<(index + length)].firstIndex(of: UInt8(ascii: "="))
            else {
                throw ArchiveError.malformedHeader("invalid PAX record at offset \(index)", entry: entry)
            }
            let key = String(decoding: data[(space + 1)..<equals], as: UTF8.self)
            let value = Array(data[(equals + 1)..<(index + length - 1)])
            records.append((key, value))
            index += length
        }
        return records
    }

    static func encode(_ records: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in records {
            let body = 1 + key.utf8.count + 1 + value.count + 1  // " key=value\n"
            // The length counts its own digits, which can carry it into one more digit.
            var length = body + String(body).count
            if String(length).count != String(body).count {
                length = body + String(length).count
            }
            out.append(contentsOf: Array(String(length).utf8))
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: Array(key.utf8))
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: value)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Parses a PAX time such as `1700000000.123456789` or `-1.5`.
    static func parseTime(_ text: String) -> TarTime? {
        var text = Substring(text)
        let negative = text.hasPrefix("-")
        if negative { text = text.dropFirst() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let secondsText = parts.first, !secondsText.isEmpty, let seconds = Int64(secondsText) else { return nil }
        var nanoseconds: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1].prefix(9)
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            nanoseconds = Int64(digits + String(repeating: "0", count: 9 - digits.count)) ?? 0
        }
        if negative {
            if nanoseconds == 0 { return TarTime(seconds: -seconds) }
            return TarTime(seconds: -seconds - 1, nanoseconds: Int32(1_000_000_000 - nanoseconds))
        }
        return TarTime(seconds: seconds, nanoseconds: Int32(nanoseconds))
    }

    static func formatTime(_ time: TarTime) -> String {
        var seconds = time.seconds
        var nanoseconds = Int64(time.nanoseconds)
        var sign = ""
        if seconds < 0 {
            sign = "-"
            if nanoseconds > 0 {
                seconds += 1
                nanoseconds = 1_000_000_000 - nanoseconds
            }
            seconds = -seconds
        }
        guard nanoseconds != 0 else { return "\(sign)\(seconds)" }
        var fraction = String(nanoseconds)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(seconds).\(fraction)"
    }
}
