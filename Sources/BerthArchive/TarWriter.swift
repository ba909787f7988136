/// Writes a tar archive: ustar headers, preceded by a PAX extended header when a field does not
/// fit ustar (long or non-ASCII names, large ids or sizes, sub-second mtimes, xattrs).
/// Output is deterministic: equal entries and contents give equal bytes.
public final class TarWriter {
    private let sink: ByteSink
    private let output: UnsafeMutableRawBufferPointer
    private var outputCount = 0
    private var finished = false

    /// Writes the archive to `sink`.
    public init(_ sink: ByteSink) {
        self.sink = sink
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: streamBufferSize, alignment: 16)
    }

    deinit {
        output.deallocate()
    }

    /// Writes one entry. For regular files `contents` must yield exactly `entry.size` bytes;
    /// other kinds have no contents.
    public func write(_ entry: TarEntry, contents: ByteSource?) throws {
        try writeHeaders(entry)
        guard entry.kind == .file, entry.size > 0 else { return }
        guard let contents else { throw ArchiveError.sizeMismatch(entry.path, expected: entry.size, actual: 0) }
        var left = entry.size
        while left > 0 {
            if outputCount == output.count { try flush() }
            let room = Int(min(left, Int64(output.count - outputCount)))
            let n = try contents.read(into: UnsafeMutableRawBufferPointer(rebasing: output[outputCount..<outputCount + room]))
            if n == 0 { throw ArchiveError.sizeMismatch(entry.path, expected: entry.size, actual: entry.size - left) }
            outputCount += n
            left -= Int64(n)
        }
        var probe: UInt8 = 0
        if try withUnsafeMutableBytes(of: &probe, { try contents.read(into: $0) }) > 0 {
            throw ArchiveError.sizeMismatch(entry.path, expected: entry.size, actual: entry.size + 1)
        }
        try pad(entry.size)
    }

    /// Writes one entry whose contents are in memory; `entry.size` is taken from `bytes` for files.
    public func write(_ entry: TarEntry, bytes: [UInt8]) throws {
        var entry = entry
        if entry.kind == .file { entry.size = Int64(bytes.count) }
        try write(entry, contents: BytesSource(bytes))
    }

    /// Writes the end-of-archive marker (two zero blocks), then finishes the sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try append([UInt8](repeating: 0, count: 2 * TarHeader.blockSize))
        try flush()
        try sink.finish()
    }

    private func flush() throws {
        guard outputCount > 0 else { return }
        try sink.write(UnsafeRawBufferPointer(rebasing: output[0..<outputCount]))
        outputCount = 0
    }

    private func append(_ bytes: [UInt8]) throws {
        var index = 0
        while index < bytes.count {
            if outputCount == output.count { try flush() }
            let n = min(bytes.count - index, output.count - outputCount)
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: output[outputCount..<outputCount + n])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[index..<index + n]))
            }
            outputCount += n
            index += n
        }
    }

    private func pad(_ size: Int64) throws {
        let padding = Int((Int64(TarHeader.blockSize) - size % Int64(TarHeader.blockSize)) % Int64(TarHeader.blockSize))
        if padding > 0 { try append([UInt8](repeating: 0, count: padding)) }
    }

    private static func isPortable(_ text: String, limit: Int) -> Bool {
        text.utf8.count <= limit && text.utf8.allSatisfy { $0 < 0x80 && $0 != 0 }
    }

    /// Splits a path into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a slash, if possible.
    private static func splitUstarPath(_ path: [UInt8]) -> (prefix: ArraySlice<UInt8>, name: ArraySlice<UInt8>)? {
        if path.count <= 100 { return (path[0..<0], path[...]) }
        guard path.count <= 256 else { return nil }
        for index in stride(from: min(155, path.count - 1), through: 1, by: -1) where path[index] == UInt8(ascii: "/") {
            let name = path[(index + 1)...]
            if name.isEmpty || name.count > 100 { return nil }
            return (path[0..<index], name)
        }
        return nil
    }

    private func writeHeaders(_ entry: TarEntry) throws {
        typealias F = TarHeader.Field
        guard !finished else { throw ArchiveError.unsupportedEntry(entry.path, reason: "the archive is already finished") }
        guard !entry.path.isEmpty else { throw ArchiveError.unsupportedEntry(entry.path, reason: "empty path") }
        var path = entry.path
        if entry.kind == .directory, !path.hasSuffix("/") { path += "/" }
        let size = entry.kind == .file ? entry.size : 0
        var records: [(String, [UInt8])] = []

        let pathBytes = Array(path.utf8)
        let split = path.utf8.allSatisfy({ $0 < 0x80 && $0 != 0 }) ? Self.splitUstarPath(pathBytes) : nil
        if split == nil { records.append(("path", pathBytes)) }
        if !Self.isPortable(entry.linkName, limit: 100) { records.append(("linkpath", Array(entry.linkName.utf8))) }
        let idLimit = TarHeader.octalLimit(F.uid)
        if entry.uid < 0 || Int64(entry.uid) > idLimit { records.append(("uid", Array(String(entry.uid).utf8))) }
        if entry.gid < 0 || Int64(entry.gid) > idLimit { records.append(("gid", Array(String(entry.gid).utf8))) }
        if !Self.isPortable(entry.userName, limit: 32) { records.append(("uname", Array(entry.userName.utf8))) }
        if !Self.isPortable(entry.groupName, limit: 32) { records.append(("gname", Array(entry.groupName.utf8))) }
        if size > TarHeader.octalLimit(F.size) { records.append(("size", Array(String(size).utf8))) }
        let mtime = entry.modificationTime
        if mtime.nanoseconds != 0 || mtime.seconds < 0 || mtime.seconds > TarHeader.octalLimit(F.mtime) {
            records.append(("mtime", Array(PAXRecords.formatTime(mtime).utf8)))
        }
        for name in entry.xattrs.keys.sorted() {
            records.append(("SCHILY.xattr." + name, entry.xattrs[name] ?? []))
        }

        if !records.isEmpty {
            let data = PAXRecords.encode(records)
            // Named like Go's archive/tar does, without the process id GNU tar puts in, for determinism.
            let trimmed = pathBytes.last == UInt8(ascii: "/") ? pathBytes.dropLast() : pathBytes[...]
            let base = trimmed.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? []
            let directory = trimmed.count > base.count ? Array(trimmed.prefix(trimmed.count - base.count)) : []
            var headerName = directory + Array("PaxHeaders.0/".utf8) + base
            if headerName.count > 100 { headerName = Array(headerName.prefix(100)) }
            var pax = [UInt8](repeating: 0, count: TarHeader.blockSize)
            TarHeader.setBytes(&pax, F.name, headerName)
            TarHeader.setOctal(&pax, F.mode, 0o644)
            TarHeader.setOctal(&pax, F.uid, 0)
            TarHeader.setOctal(&pax, F.gid, 0)
            TarHeader.setOctal(&pax, F.size, Int64(data.count))
            TarHeader.setOctal(&pax, F.mtime, 0)
            pax[F.typeFlag] = UInt8(ascii: "x")
            TarHeader.setBytes(&pax, F.magic, Array("ustar\0".utf8))
            TarHeader.setBytes(&pax, F.version, Array("00".utf8))
            TarHeader.setChecksum(&pax)
            try append(pax)
            try append(data)
            try pad(Int64(data.count))
        }

        var header = [UInt8](repeating: 0, count: TarHeader.blockSize)
        if let split {
            TarHeader.setBytes(&header, F.name, split.name)
            TarHeader.setBytes(&header, F.prefix, split.prefix)
        } else {
            TarHeader.setBytes(&header, F.name, pathBytes.prefix(100))
        }
        TarHeader.setOctal(&header, F.mode, Int64(entry.mode & 0o7777))
        TarHeader.setOctal(&header, F.uid, entry.uid >= 0 && Int64(entry.uid) <= idLimit ? Int64(entry.uid) : 0)
        TarHeader.setOctal(&header, F.gid, entry.gid >= 0 && Int64(entry.gid) <= idLimit ? Int64(entry.gid) : 0)
        TarHeader.setOctal(&header, F.size, size <= TarHeader.octalLimit(F.size) ? size : 0)
        let seconds = mtime.seconds
        TarHeader.setOctal(&header, F.mtime, seconds >= 0 && seconds <= TarHeader.octalLimit(F.mtime) ? seconds : 0)
        header[F.typeFlag] = entry.kind.typeFlag
        TarHeader.setBytes(&header, F.linkName, Array(entry.linkName.utf8).prefix(100))
        TarHeader.setBytes(&header, F.magic, Array("ustar\0".utf8))
        TarHeader.setBytes(&header, F.version, Array("00".utf8))
        TarHeader.setBytes(&header, F.userName, Array(entry.userName.utf8).prefix(32))
        TarHeader.setBytes(&header, F.groupName, Array(entry.groupName.utf8).prefix(32))
        TarHeader.setOctal(&header, F.deviceMajor, Int64(min(entry.deviceMajor, 0o7777777)))
        TarHeader.setOctal(&header, F.deviceMinor, Int64(min(entry.deviceMinor, 0o7777777)))
        TarHeader.setChecksum(&header)
        try append(header)
    }
}
