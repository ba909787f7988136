import Glibc
import Testing

@testable import BerthArchive

@Suite struct CompressionTests {
    static let payload: [UInt8] = (0..<2_500_000).map { UInt8(truncatingIfNeeded: ($0 * 7) ^ ($0 >> 9)) }

    @Test func detectsMagicBytes() {
        #expect(Compression.detect([0x1f, 0x8b, 8, 0]) == .gzip)
        #expect(Compression.detect([0x28, 0xb5, 0x2f, 0xfd, 0]) == .zstd)
        #expect(Compression.detect(Array("hello".utf8)) == .none)
        #expect(Compression.detect([0x1f]) == .none)
    }

    static func decompressAll(_ bytes: [UInt8]) throws -> (Compression, [UInt8]) {
        let source = try DecompressingSource(BytesSource(bytes))
        let sink = BytesSink()
        var buffer = [UInt8](repeating: 0, count: 100_000)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return (source.compression, sink.bytes)
    }

    @Test(arguments: [["gzip", "-c"], ["zstd", "-q", "-c"]])
    func decompressesOutputOfTheCLI(command: [String]) throws {
        let directory = try TemporaryDirectory()
        let input = directory.file("input")
        let sink = try FileSink(path: input)
        try sink.write(Self.payload)
        let compressed = try run(command + [input])
        let (kind, output) = try Self.decompressAll(compressed)
        #expect(kind == (command[0] == "gzip" ? .gzip : .zstd))
        #expect(output == Self.payload)
    }

    @Test(arguments: [["gzip", "-c"], ["zstd", "-q", "-c"]])
    func decompressesConcatenatedMembers(command: [String]) throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file("a"), "first member\n")
        try writeFile(directory.file("b"), "second member\n")
        let joined = try run(command + [directory.file("a")]) + run(command + [directory.file("b")])
        #expect(try Self.decompressAll(joined).1 == Array("first member\nsecond member\n".utf8))
    }

    @Test func plainDataPassesThrough() throws {
        #expect(try Self.decompressAll(Self.payload) == (.none, Self.payload))
        #expect(try Self.decompressAll([1, 2]) == (.none, [1, 2]))
        #expect(try Self.decompressAll([]) == (.none, []))
    }

    @Test func truncatedAndCorruptStreamsFail() throws {
        let gzip = BytesSink()
        let sink = GzipSink(gzip)
        try sink.write(Self.payload)
        try sink.finish()
        #expect(throws: ArchiveError.self) { try Self.decompressAll(Array(gzip.bytes.prefix(gzip.bytes.count / 2))) }
        var corrupt = gzip.bytes
        corrupt[corrupt.count / 2] ^= 0xff
        corrupt[corrupt.count / 2 + 1] ^= 0xff
        #expect(throws: ArchiveError.self) { try Self.decompressAll(corrupt) }
        let zstd = try run(["zstd", "-q", "-c"], input: Self.payload)
        #expect(throws: ArchiveError.self) { try Self.decompressAll(Array(zstd.prefix(zstd.count - 10))) }
    }

    @Test func gzipSinkIsDeterministicAndReadableByGzip() throws {
        func compress() throws -> [UInt8] {
            let bytes = BytesSink()
            let sink = GzipSink(bytes, level: 6)
            try sink.write(Self.payload)
            try sink.finish()
            return bytes.bytes
        }
        let first = try compress()
        let second = try compress()
        #expect(first == second)
        #expect(Array(first[0..<10]) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], "no mtime, no name, fixed OS byte")
        #expect(try run(["gzip", "-dc"], input: first) == Self.payload)
        #expect(try Self.decompressAll(first).1 == Self.payload)

        let empty = BytesSink()
        try GzipSink(empty).finish()
        #expect(try run(["gzip", "-dc"], input: empty.bytes) == [])
    }

    @Test func compressedTarLayersAreRead() throws {
        let tar = try makeTar([(TarEntry(kind: .file, path: "payload"), Self.payload)])
        let gzip = BytesSink()
        let sink = GzipSink(gzip)
        try sink.write(tar)
        try sink.finish()
        let zstd = try run(["zstd", "-q", "-c"], input: tar)
        for compressed in [gzip.bytes, zstd] {
            let entries = try readAll(compressed)
            #expect(entries.count == 1)
            #expect(entries.first?.1 == Self.payload)
        }
    }
}
