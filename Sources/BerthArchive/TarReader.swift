/// Reads a tar archive sequentially: ustar, GNU (`L`/`K` long names, base-256 numbers) and PAX
/// (`x` and `g` headers). Data is streamed through a 1 MiB buffer.
public final class TarReader {
    private let source: ByteSource
    private let buffer: UnsafeMutableRawBufferPointer
    private var bufferStart = 0
    private var bufferEnd = 0
    private var sourceEnded = false
    /// Bytes of the archive consumed so far (for error messages).
    private var offset: Int64 = 0
    /// Unread data of the current entry, and the padding after it.
    private var remaining: Int64 = 0
    private var padding = 0
    private var currentPath: String?
    private var globalRecords: [String: [UInt8]] = [:]
    private var ended = false

    /// Reads an uncompressed tar stream from `source` (wrap it in `DecompressingSource` for layers).
    public init(_ source: ByteSource) {
        self.source = source
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: streamBufferSize, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// Refills the buffer when empty; returns false at end of input.
    private func fill() throws -> Bool {
        if bufferStart < bufferEnd { return true }
        if sourceEnded { return false }
        bufferStart = 0
        bufferEnd = try source.read(into: buffer)
        if bufferEnd == 0 { sourceEnded = true }
        return bufferEnd > 0
    }

    /// Reads exactly `destination.count` bytes; returns how many were available before EOF.
    private func readExactly(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < destination.count {
            guard try fill() else { break }
            let n = min(destination.count - filled, bufferEnd - bufferStart)
            UnsafeMutableRawBufferPointer(rebasing: destination[filled..<filled + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[bufferStart..<bufferStart + n]))
            bufferStart += n
            filled += n
        }
        offset += Int64(filled)
        return filled
    }

    private func skip(_ count: Int64) throws {
        var left = count
        while left > 0 {
            guard try fill() else { throw ArchiveError.truncatedArchive(entry: currentPath) }
            let n = Int(min(left, Int64(bufferEnd - bufferStart)))
            bufferStart += n
            left -= Int64(n)
            offset += Int64(n)
        }
    }

    /// Passes the current entry's unread data to `body` in chunks, then consumes its padding.
    private func consumeData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        while remaining > 0 {
            guard try fill() else { throw ArchiveError.truncatedArchive(entry: currentPath) }
            let n = Int(min(remaining, Int64(bufferEnd - bufferStart)))
            try body(UnsafeRawBufferPointer(rebasing: buffer[bufferStart..<bufferStart + n]))
            bufferStart += n
            remaining -= Int64(n)
            offset += Int64(n)
        }
        if padding > 0 {
            try skip(Int64(padding))
            padding = 0
        }
    }

    private func readBlockData(size: Int64, entry: String?) throws -> [UInt8] {
        guard size <= 64 << 20 else {
            throw ArchiveError.malformedHeader("extended header of \(size) bytes is too large", entry: entry)
        }
        var data = [UInt8](repeating: 0, count: Int(size))
        let read = try data.withUnsafeMutableBytes { try readExactly(into: $0) }
        guard read == data.count else { throw ArchiveError.truncatedArchive(entry: entry) }
        let pad = (TarHeader.blockSize - Int(size % Int64(TarHeader.blockSize))) % TarHeader.blockSize
        try skip(Int64(pad))
        return data
    }

    /// Returns the next entry, or nil at the end of the archive. Unread data of the previous
    /// entry is skipped.
    public func next() throws -> TarEntry? {
        try consumeData { _ in }
        currentPath = nil
        guard !ended else { return nil }

        var localRecords: [String: [UInt8]] = [:]
        var longName: String?
        var longLink: String?
        var header = [UInt8](repeating: 0, count: TarHeader.blockSize)
        while true {
            let headerOffset = offset
            let read = try header.withUnsafeMutableBytes { try readExactly(into: $0) }
            if read == 0 && localRecords.isEmpty && longName == nil && longLink == nil {
                // EOF at a header boundary without end-of-archive blocks: accepted, like GNU tar and Go.
                ended = true
                return nil
            }
            guard read == TarHeader.blockSize else { throw ArchiveError.truncatedArchive(entry: nil) }
            let entry = try header.withUnsafeBytes { block -> TarEntry? in
                if TarHeader.isZeroBlock(block) { return nil }
                let sums = TarHeader.checksums(block)
                guard let stored = TarHeader.number(block, TarHeader.Field.checksum),
                    stored == Int64(sums.unsigned) || stored == Int64(sums.signed)
                else { throw ArchiveError.badHeaderChecksum(offset: headerOffset) }
                return try parseHeader(block)
            }
            guard var entry else {
                ended = true
                return nil
            }
            let typeFlag = header[TarHeader.Field.typeFlag]
            let dataSize = entry.size
            switch typeFlag {
            case UInt8(ascii: "x"):
                for (key, value) in try PAXRecords.parse(readBlockData(size: dataSize, entry: entry.path), entry: entry.path) {
                    localRecords[key] = value
                }
                continue
            case UInt8(ascii: "g"):
                for (key, value) in try PAXRecords.parse(readBlockData(size: dataSize, entry: entry.path), entry: entry.path) {
                    globalRecords[key] = value
                }
                continue
            case UInt8(ascii: "L"):
                longName = Self.trimNULs(try readBlockData(size: dataSize, entry: entry.path))
                continue
            case UInt8(ascii: "K"):
                longLink = Self.trimNULs(try readBlockData(size: dataSize, entry: entry.path))
                continue
            default:
                break
            }
            if let longName { entry.path = longName }
            if let longLink { entry.linkName = longLink }
            try apply(globalRecords.merging(localRecords) { $1 }, to: &entry)

            // Header-only types carry no data whatever the size field says (as Go's archive/tar).
            if entry.kind != .file { entry.size = 0 }
            if entry.kind == .file, typeFlag == 0 || typeFlag == UInt8(ascii: "0"), entry.path.hasSuffix("/") {
                entry.kind = .directory  // pre-POSIX archives mark directories by a trailing slash
                entry.size = 0
            }
            while entry.path.count > 1, entry.path.hasSuffix("/") { entry.path.removeLast() }
            remaining = entry.size
            padding = Int((Int64(TarHeader.blockSize) - entry.size % Int64(TarHeader.blockSize)) % Int64(TarHeader.blockSize))
            currentPath = entry.path
            return entry
        }
    }

    private static func trimNULs(_ data: [UInt8]) -> String {
        let end = data.firstIndex(of: 0) ?? data.count
        return String(decoding: data[0..<end], as: UTF8.self)
    }

    private func parseHeader(_ block: UnsafeRawBufferPointer) throws -> TarEntry {
        typealias F = TarHeader.Field
        var path = TarHeader.string(block, F.name)
        let magic = Array(block[F.magic])
        let version = Array(block[F.version])
        let isGNU = magic == Array("ustar ".utf8) && version == [UInt8(ascii: " "), 0]
        let isUstar = magic == Array("ustar\0".utf8)
        if isUstar && !isGNU {
            let prefix = TarHeader.string(block, F.prefix)
            if !prefix.isEmpty { path = prefix + "/" + path }
        }
        func number(_ range: Range<Int>, _ field: String) throws -> Int64 {
            guard let value = TarHeader.number(block, range) else {
                throw ArchiveError.malformedHeader("invalid \(field) field", entry: path)
            }
            return value
        }
        let typeFlag = block[F.typeFlag]
        let kind: TarEntry.Kind
        switch typeFlag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "1"): kind = .hardlink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"), UInt8(ascii: "D"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"): kind = .file
        default:
            throw ArchiveError.unsupportedEntry(path, reason: "tar type '\(Character(Unicode.Scalar(typeFlag)))' is not supported")
        }
        let size = try number(F.size, "size")
        guard size >= 0 else { throw ArchiveError.malformedHeader("negative size", entry: path) }
        return TarEntry(
            kind: kind, path: path, linkName: TarHeader.string(block, F.linkName),
            mode: UInt32(truncatingIfNeeded: try number(F.mode, "mode")) & 0o7777,
            uid: Int(try number(F.uid, "uid")), gid: Int(try number(F.gid, "gid")),
            userName: isUstar || isGNU ? TarHeader.string(block, F.userName) : "",
            groupName: isUstar || isGNU ? TarHeader.string(block, F.groupName) : "",
            size: size, modificationTime: TarTime(seconds: try number(F.mtime, "mtime")),
            deviceMajor: isUstar || isGNU ? UInt32(truncatingIfNeeded: TarHeader.number(block, F.deviceMajor) ?? 0) : 0,
            deviceMinor: isUstar || isGNU ? UInt32(truncatingIfNeeded: TarHeader.number(block, F.deviceMinor) ?? 0) : 0)
    }

    private func apply(_ records: [String: [UInt8]], to entry: inout TarEntry) throws {
        let path = entry.path
        func integer(_ value: [UInt8], _ key: String) throws -> Int64 {
            guard let number = Int64(String(decoding: value, as: UTF8.self)) else {
                throw ArchiveError.malformedHeader("invalid PAX \(key) '\(String(decoding: value, as: UTF8.self))'", entry: path)
            }
            return number
        }
        for (key, value) in records {
            if key.hasPrefix("SCHILY.xattr.") {
                entry.xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = value
                continue
            }
            // An empty value deletes the record (POSIX): the header field stands.
            if value.isEmpty { continue }
            let text = String(decoding: value, as: UTF8.self)
            switch key {
            case "path": entry.path = text
            case "linkpath": entry.linkName = text
            case "size":
                let size = try integer(value, key)
                guard size >= 0 else { throw ArchiveError.malformedHeader("negative PAX size", entry: path) }
                entry.size = size
            case "uid": entry.uid = Int(try integer(value, key))
            case "gid": entry.gid = Int(try integer(value, key))
            case "uname": entry.userName = text
            case "gname": entry.groupName = text
            case "mtime":
                guard let time = PAXRecords.parseTime(text) else {
                    throw ArchiveError.malformedHeader("invalid PAX mtime '\(text)'", entry: path)
                }
                entry.modificationTime = time
            default:
                if key.hasPrefix("GNU.sparse.") {
                    throw ArchiveError.unsupportedEntry(path, reason: "GNU sparse files are not supported")
                }
            }
        }
    }

    /// Streams the current entry's remaining data into `sink` (without calling `sink.finish()`).
    public func readContents(into sink: ByteSink) throws {
        try consumeData { try sink.write($0) }
    }

    /// Returns the current entry's remaining data.
    public func readContents() throws -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(Int(min(remaining, 64 << 20)))
        try consumeData { data.append(contentsOf: $0) }
        return data
    }
}
