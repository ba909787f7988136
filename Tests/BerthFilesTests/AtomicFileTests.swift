import BerthFiles
import Foundation
import Glibc
import Testing

@Suite struct AtomicFileTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "berth-files-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(arguments: [Durability.durable, .atomicOnly])
    func replacesContentWholeAndLeavesNoTemporaryFile(durability: Durability) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/state.json"
        try AtomicFile.write(Array("old".utf8), to: path, mode: 0o600, durability: durability)
        try AtomicFile.write(Array("new content".utf8), to: path, mode: 0o600, durability: durability)
        #expect(FileManager.default.contents(atPath: path) == Data("new content".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.json"])
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test func usesTheGivenTemporaryDirectory() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: false)
        try AtomicFile.write(Array("x".utf8), to: directory + "/file", durability: .durable, temporaryDirectory: directory + "/tmp")
        #expect(FileManager.default.contents(atPath: directory + "/file") == Data("x".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)
    }

    @Test func failuresKeepTheirErrnoAndPath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/no-such-directory/file"
        do {
            try AtomicFile.write(Array("x".utf8), to: missing, durability: .durable)
            Issue.record("a write into a missing directory succeeded")
        } catch {
            #expect(error.code == ENOENT)
            #expect(error.path.hasPrefix(directory + "/no-such-directory/"))
            #expect(error.description.hasSuffix(": No such file or directory"))
        }
    }

    @Test func commitRenamesAFinishedFileIntoPlace() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let temporary = directory + "/partial"
        #expect(FileManager.default.createFile(atPath: temporary, contents: Data("done".utf8)))
        try AtomicFile.commit(temporary, to: directory + "/final", durability: .durable)
        #expect(FileManager.default.contents(atPath: directory + "/final") == Data("done".utf8))
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(throws: FileError.self) { try AtomicFile.commit(temporary, to: directory + "/other", durability: .atomicOnly) }
    }
}
