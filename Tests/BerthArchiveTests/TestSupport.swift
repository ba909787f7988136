import Foundation
import Glibc
import Testing

@testable import BerthArchive

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/berth-archive-test-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw ArchiveError.lastIO("mkdtemp", "/tmp") }
        path = String(cString: created)
    }

    deinit {
        try? FileSystem.removeTree(path)
    }

    func file(_ relative: String) -> String { path + "/" + relative }
}

let isRoot = geteuid() == 0

struct CommandFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs a program and returns its standard output; throws when it exits non-zero.
@discardableResult
func run(_ arguments: [String], in directory: String? = nil, input: [UInt8]? = nil) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    // Input comes from a file so that a child filling its output pipe cannot deadlock with us.
    let inputFile = try TemporaryDirectory()
    if let input {
        let path = inputFile.file("stdin")
        try FileSink(path: path).write(input)
        process.standardInput = FileHandle(forReadingAtPath: path)
    }
    try process.run()
    // Drain stderr concurrently so a chatty child cannot block on it while we read stdout.
    nonisolated(unsafe) var errorData = Data()
    let errorReader = Thread { errorData = errors.fileHandleForReading.readDataToEndOfFile() }
    errorReader.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorReader.isFinished { usleep(1000) }
    guard process.terminationStatus == 0 else {
        throw CommandFailed(description: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
    }
    return Array(data)
}

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    let sink = try FileSink(path: path, mode: mode)
    try sink.write(Array(text.utf8))
    guard chmod(path, mode) == 0 else { throw ArchiveError.lastIO("chmod", path) }
}

func readFile(_ path: String) throws -> [UInt8] {
    let source = try FileSource(path: path)
    let sink = BytesSink()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        if n == 0 { break }
        try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return sink.bytes
}

func exists(_ path: String) -> Bool { FileSystem.lstatInfo(path) != nil }

/// Builds a tar archive in memory from entries and their contents.
func makeTar(_ entries: [(TarEntry, [UInt8])]) throws -> [UInt8] {
    let sink = BytesSink()
    let writer = TarWriter(sink)
    for (entry, bytes) in entries { try writer.write(entry, bytes: bytes) }
    try writer.finish()
    return sink.bytes
}

/// Reads every entry and its contents.
func readAll(_ bytes: [UInt8]) throws -> [(TarEntry, [UInt8])] {
    let reader = TarReader(try DecompressingSource(BytesSource(bytes)))
    var result: [(TarEntry, [UInt8])] = []
    while let entry = try reader.next() {
        result.append((entry, try reader.readContents()))
    }
    return result
}

/// Lists the names in a directory (sorted).
func listing(_ path: String) throws -> [String] { try FileSystem.children(path) }
