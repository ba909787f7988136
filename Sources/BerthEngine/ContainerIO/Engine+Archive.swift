import BerthOCI
import BerthRuntime
import Foundation
import Glibc
import NIOCore

/// What a path in a container is, as `X-Docker-Container-Path-Stat` reports it (base64 of this
/// JSON): `mode` is Go's os.FileMode (type bits high, permissions low), `mtime` RFC 3339.
public struct PathStat: Codable, Sendable, Equatable {
    public var name: String
    public var size: Int64
    public var mode: UInt32
    public var mtime: String
    public var linkTarget: String

    init(_ stat: ContainerPathStat) {
        name = stat.name
        size = stat.size
        mode = Self.goFileMode(stat.mode)
        mtime = Timestamp.format(stat.modified)
        linkTarget = stat.linkTarget
    }

    /// Go's os.FileMode for a stat(2) st_mode.
    static func goFileMode(_ mode: UInt32) -> UInt32 {
        var result = mode & 0o777
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): result |= 1 << 31
        case UInt32(S_IFLNK): result |= 1 << 27
        case UInt32(S_IFBLK): result |= 1 << 26
        case UInt32(S_IFCHR): result |= 1 << 26 | 1 << 21
        case UInt32(S_IFIFO): result |= 1 << 25
        case UInt32(S_IFSOCK): result |= 1 << 24
        default: break
        }
        if mode & UInt32(S_ISUID) != 0 { result |= 1 << 23 }
        if mode & UInt32(S_ISGID) != 0 { result |= 1 << 22 }
        if mode & UInt32(S_ISVTX) != 0 { result |= 1 << 20 }
        return result
    }

    /// The header's value.
    public var headerValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return ((try? encoder.encode(self)) ?? Data()).base64EncodedString()
    }
}

extension Engine {
    /// Stats `path` in a container, running or stopped (dockerd's `HEAD /containers/{id}/archive`).
    public func statPath(_ reference: String, path: String) async throws -> PathStat {
        guard !path.isEmpty else { throw EngineError.invalidParameter("path cannot be empty") }
        let runtime = runtime
        guard let stat = try await blocking({ try runtime.statPath(reference, path: path) }) else {
            throw EngineError.notFound("Could not find the file \(path) in container \(reference)")
        }
        return PathStat(stat)
    }

    /// Streams `path` in a container as a tar archive whose top entry is named after the path's
    /// last element (dockerd's `GET /containers/{id}/archive`).
    public func archive(_ reference: String, path: String, deliver: (ByteBuffer) async throws -> Void) async throws {
        let runtime = runtime
        let pipe = try DescriptorStreams.pipe()
        let copy = Task {
            try await DescriptorStreams.onThread {
                defer { close(pipe.write) }
                try runtime.copyFromContainer(reference, source: path, to: .stream(pipe.write))
            }
        }
        let channel: DescriptorStreams.Channel
        do {
            channel = try await DescriptorStreams.reading(pipe.read)
        } catch {
            close(pipe.read)
            _ = try? await copy.value
            throw error
        }
        try await DescriptorStreams.forEachChunk(of: channel, deliver)
        _ = try await copy.value
        recordCopy("archive-path", reference)
    }

    /// `cp CONTAINER:SRC DEST` for a front end on this machine (the CLI): copies `source` to the
    /// host path, or as a tar stream to a descriptor, by Docker's rules; the bytes of the tar
    /// stream moved.
    @discardableResult
    public func copyFromContainer(_ reference: String, source: String, to destination: CopyEndpoint,
                                  followLink: Bool) async throws -> Int64 {
        let runtime = runtime
        let bytes = try await blocking {
            try runtime.copyFromContainer(reference, source: source, to: destination, followLink: followLink)
        }
        recordCopy("archive-path", reference)
        return bytes
    }

    /// `cp SRC CONTAINER:DEST` for a front end on this machine (the CLI): copies the host path, or
    /// a tar stream from a descriptor, into the container by Docker's rules (root owns the files
    /// unless `preserveOwnership`); the bytes of the tar stream moved.
    @discardableResult
    public func copyToContainer(_ reference: String, from source: CopyEndpoint, destination: String, followLink: Bool,
                                preserveOwnership: Bool) async throws -> Int64 {
        let runtime = runtime
        let bytes = try await blocking {
            try runtime.copyToContainer(reference, from: source, destination: destination, followLink: followLink,
                                        preserveOwnership: preserveOwnership)
        }
        recordCopy("extract-to-dir", reference)
        return bytes
    }

    /// dockerd's events for `cp`: `archive-path` out of a container, `extract-to-dir` into one.
    private func recordCopy(_ action: String, _ reference: String) {
        guard let record = try? runtime.container(reference) else { return }
        events.record(.container, action, id: record.id, attributes: record.eventAttributes())
    }

    /// Extracts a tar archive into the directory `path` in a container (dockerd's `PUT
    /// /containers/{id}/archive`): `noOverwriteDirNonDir` refuses to replace a directory with a
    /// non-directory or the reverse; `copyUIDGID` keeps the archive's owners (else root owns all).
    public func extractArchive(_ reference: String, path: String, archive: some AsyncSequence<ByteBuffer, any Error>,
                               noOverwriteDirNonDir: Bool, copyUIDGID: Bool) async throws {
        let stat = try await statPath(reference, path: path)
        guard stat.mode & (1 << 31) != 0 || !stat.linkTarget.isEmpty else {
            throw EngineError.invalidParameter("extraction point is not a directory")
        }
        let runtime = runtime
        let pipe = try DescriptorStreams.pipe()
        let extract = Task {
            try await DescriptorStreams.onThread {
                defer { close(pipe.read) }
                try runtime.extractArchive(reference, into: path, from: pipe.read, refuseTypeChanges: noOverwriteDirNonDir,
                                           preserveOwnership: copyUIDGID)
            }
        }
        do {
            let channel = try await DescriptorStreams.writing(pipe.write)
            try await channel.executeThenClose { _, outbound in
                for try await chunk in archive { try await outbound.write(chunk) }
            }
        } catch where error is IOError || error is ChannelError {
            // The helper stopped reading: its own error says why.
        }
        try await extract.value
        recordCopy("extract-to-dir", reference)
    }
}
