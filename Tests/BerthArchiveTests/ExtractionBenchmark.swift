import Foundation
import Glibc
import Testing

@testable import BerthArchive

/// Manual throughput check, skipped unless `BERTH_ARCHIVE_BENCH=1`:
/// `BERTH_ARCHIVE_BENCH=1 swift test -c release --filter ExtractionBenchmark`.
/// Builds a ~500 MB tar (large files plus many small ones), then times reading, extraction and
/// GNU tar extracting the same archive, printing MB/s for each.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BERTH_ARCHIVE_BENCH"] != nil))
struct ExtractionBenchmark {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test func extract500MegabyteArchive() throws {
        let directory = try TemporaryDirectory()
        let archive = directory.file("big.tar")
        let chunk = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
        let writer = TarWriter(try FileSink(path: archive))
        for index in 0..<45 {
            let big = (0..<10).flatMap { _ in chunk }
            try writer.write(TarEntry(kind: .file, path: "big/file\(index)"), bytes: big)
        }
        for index in 0..<20_000 {
            try writer.write(TarEntry(kind: .file, path: "small/\(index % 100)/file\(index)"), bytes: Array(chunk[0..<2048]))
        }
        try writer.finish()
        let size = Double(FileSystem.lstatInfo(archive)?.st_size ?? 0) / 1e6

        let readTime = try Self.seconds {
            let reader = TarReader(try FileSource(path: archive))
            let sink = FileSink(fileDescriptor: open("/dev/null", O_WRONLY), closeOnDeinit: true)
            while try reader.next() != nil { try reader.readContents(into: sink) }
        }
        // GNU tar goes first so that page-cache writeback from one run does not slow the other.
        try run(["mkdir", directory.file("gnu")])
        let gnuTime = try Self.seconds { try run(["tar", "-xf", archive, "-C", directory.file("gnu")]) }
        sync()
        let extractTime = try Self.seconds {
            _ = try SafeExtractor(root: directory.file("ours")).extract(TarReader(try FileSource(path: archive)))
        }
        print(String(format: "archive %.0f MB: read %.2fs (%.0f MB/s), extract %.2fs (%.0f MB/s), GNU tar -x %.2fs (%.0f MB/s)",
                     size, readTime, size / readTime, extractTime, size / extractTime, gnuTime, size / gnuTime))
        #expect(try run(["diff", "-r", directory.file("ours"), directory.file("gnu")]).isEmpty)
    }
}
