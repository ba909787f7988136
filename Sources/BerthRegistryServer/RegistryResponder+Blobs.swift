import BerthDistribution
import BerthOCI
import Foundation
import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension RegistryResponder {
    // MARK: Blobs

    func getBlob(_ request: Request, name: String, digest text: String, channel: any Channel) throws -> Response {
        let digest = try Self.parseDigest(text)
        guard let size = storage.blobSize(name, digest) else {
            throw RegistryFailure(.blobUnknown, detail: RegistryFailure.digestDetail(text))
        }
        var headers: HTTPFields = [
            .contentType: "application/octet-stream", .dockerContentDigest: digest.description, .acceptRanges: "bytes",
            .eTag: "\"\(digest)\"",
        ]
        var start: Int64 = 0
        var length = size
        var status = HTTPResponse.Status.ok
        switch request.headers[.rangeHeader].map({ Self.parseByteRange($0, size: size) }) {
        case .range(let first, let last):
            start = first
            length = last - first + 1
            status = .partialContent
            headers[.contentRangeHeader] = "bytes \(first)-\(last)/\(size)"
        case .unsatisfiable:
            // RFC 9110's answer; the distribution-spec has no error code for it.
            return Response(status: .rangeNotSatisfiable, headers: [.contentRangeHeader: "bytes */\(size)", .contentLength: "0"])
        case .whole, nil:
            break
        }
        headers[.contentLength] = String(length)
        if request.method == .head {
            return Response(status: status, headers: headers, body: ResponseBody())
        }
        let path = storage.blobPath(digest)
        // Reads go through the page cache (unlike uploads' direct writes): a layer many clients
        // pull is then served from memory.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RegistryFailure(.blobUnknown, detail: RegistryFailure.digestDetail(text)) }
        // A blob uploaded with direct I/O is not in the page cache yet: have the kernel read the
        // range in now, in the background, instead of a block at a time as the socket drains.
        _ = posix_fadvise(fd, off_t(start), off_t(length), POSIX_FADV_WILLNEED)
        if let transfers, length > 0, sendfileToLoopback || !Self.isLoopback(channel.remoteAddress) {
            // Plain HTTP: the kernel sends the range from the page cache (`FileRegionHandler`).
            let transfer = FileTransfer(fd: fd, offset: start, length: length)
            headers[HeaderField.Name(FileTransfers.header)!] = String(transfers.register(transfer))
            channel.closeFuture.whenComplete { [weak transfer] _ in transfer?.abandon() }
            let body = ResponseBody(contentLength: Int(length)) { writer in
                try await transfer.completion()
                try await writer.finish(nil)
            }
            return Response(status: status, headers: headers, body: body)
        }
        // TLS (the bytes must pass through NIOSSL), a local client or an empty blob: buffers.
        let (first, end) = (start, start + length)
        let body = ResponseBody(contentLength: Int(length)) { writer in
            defer { close(fd) }
            var position = first
            // Two buffers take turns: by the time one comes round again the channel has usually
            // sent it, so `clear()` reuses its memory instead of allocating (and faulting in) more.
            let allocator = ByteBufferAllocator()
            var buffers = [allocator.buffer(capacity: FileIO.sendChunkSize), allocator.buffer(capacity: FileIO.sendChunkSize)]
            var turn = 0
            while position < end {
                turn ^= 1
                var buffer = buffers[turn]
                buffers[turn] = ByteBuffer()
                buffer.clear()
                let wanted = Int(min(Int64(FileIO.sendChunkSize), end - position))
                let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { bytes in
                    let count = pread(fd, bytes.baseAddress!, wanted, off_t(position))
                    guard count > 0 else { throw FileIO.fail("read", path) }
                    return count
                }
                position += Int64(count)
                try await writer.write(buffer)
                buffers[turn] = buffer
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4): return v4.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6: return address?.ipAddress == "::1"
        default: return false
        }
    }

    /// What a Range header asks of a blob, per RFC 9110.
    enum ByteRange: Equatable {
        case range(first: Int64, last: Int64)
        /// A well-formed single range that lies past the blob's end.
        case unsatisfiable
        /// Anything else: another unit, several ranges or a malformed value, which a server may
        /// (for another unit, must) ignore and answer with the whole blob.
        case whole
    }

    /// `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`.
    static func parseByteRange(_ header: String, size: Int64) -> ByteRange {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let firstText = spec[..<dash], lastText = spec[spec.index(after: dash)...]
        if firstText.isEmpty {
            guard let suffix = Int64(lastText) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .range(first: max(0, size - suffix), last: size - 1)
        }
        guard let first = Int64(firstText) else { return .whole }
        var last = size - 1
        if !lastText.isEmpty {
            guard let requested = Int64(lastText), requested >= first else { return .whole }
            last = min(requested, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .range(first: first, last: last)
    }

    func deleteBlob(name: String, digest text: String) throws -> Response {
        let digest = try Self.parseDigest(text)
        guard storage.unlinkBlob(name, digest) else {
            throw RegistryFailure(.blobUnknown, detail: RegistryFailure.digestDetail(text))
        }
        return Response(status: .accepted, headers: [.contentLength: "0"])
    }

    // MARK: Uploads

    func startUpload(_ request: Request, name: String, caller: Caller, channel: any Channel) async throws -> Response {
        let query = request.uri.queryParameters
        if let mount = query.get("mount"), let from = query.get("from"), RepositoryName(from) != nil,
           let digest = try? Self.parseDigest(mount), granted(caller, from).contains(.pull),
           storage.blobSize(from, digest) != nil {
            try storage.linkBlob(name, digest)
            return blobCreated(name: name, digest: digest)
        }
        // Checked before the session exists, so a bad digest leaves no session behind.
        let digestText = query.get("digest")
        let expected = try digestText.map { try Self.parseContentDigest($0) }
        let id = try storage.createUpload(name)
        if let expected, let digestText {
            // Monolithic upload: the whole blob is this request's body.
            var progress = UploadProgress(size: 0, hasher: SHA256Digester())
            do {
                try await appendBody(of: request, to: id, progress: &progress, channel: channel)
                try verifyAndCommit(id, name: name, progress: progress, expected: expected, text: digestText)
            } catch {
                storage.deleteUpload(id)
                throw error
            }
            return blobCreated(name: name, digest: expected)
        }
        return uploadAccepted(.accepted, name: name, id: id, size: 0)
    }

    func uploadStatus(name: String, id: String) throws -> Response {
        guard storage.uploadExists(name, id) else { throw RegistryFailure(.blobUploadUnknown) }
        return uploadAccepted(.noContent, name: name, id: id, size: storage.uploadSize(id))
    }

    func patchUpload(_ request: Request, name: String, id: String, channel: any Channel) async throws -> Response {
        let size = try await withUpload(name: name, id: id) { progress in
            try checkContentRange(request, progress: progress, name: name, id: id)
            try await appendBody(of: request, to: id, progress: &progress, channel: channel)
            return progress.size
        }
        return uploadAccepted(.accepted, name: name, id: id, size: size)
    }

    func finishUpload(_ request: Request, name: String, id: String, channel: any Channel) async throws -> Response {
        guard let digestText = request.uri.queryParameters.get("digest") else {
            throw RegistryFailure(.digestInvalid, "the digest query parameter is required to finish an upload")
        }
        let expected = try Self.parseContentDigest(digestText)
        try await withUpload(name: name, id: id) { progress in
            try checkContentRange(request, progress: progress, name: name, id: id)
            try await appendBody(of: request, to: id, progress: &progress, channel: channel)
            do {
                try verifyAndCommit(id, name: name, progress: progress, expected: expected, text: digestText)
            } catch let failure as RegistryFailure {
                // A wrong digest ends the session: nothing of it is stored.
                storage.deleteUpload(id)
                throw failure
            }
        }
        await uploads.forget(id)
        return blobCreated(name: name, digest: expected)
    }

    func cancelUpload(name: String, id: String) async throws -> Response {
        guard storage.uploadExists(name, id) else { throw RegistryFailure(.blobUploadUnknown) }
        storage.deleteUpload(id)
        await uploads.forget(id)
        return Response(status: .noContent, headers: [.contentLength: "0"])
    }

    /// Appends the request body to the upload on the connection's event loop (`EventLoopTaskExecutor`).
    private func appendBody(of request: Request, to id: String, progress: inout UploadProgress, channel: any Channel) async throws {
        progress = try await withTaskExecutorPreference(EventLoopTaskExecutor(channel.eventLoop)) { [progress] in
            var running = progress
            try await storage.appendUpload(id, body: request.body, progress: &running)
            return running
        }
    }

    /// Runs `body` with the session's progress checked out, so no other request appends meanwhile.
    private func withUpload<T>(name: String, id: String, _ body: (inout UploadProgress) async throws -> T) async throws -> T {
        guard storage.uploadExists(name, id) else { throw RegistryFailure(.blobUploadUnknown) }
        guard case .available(let known) = await uploads.checkOut(id) else {
            throw RegistryFailure(.blobUploadInvalid, "another request is writing to this upload", status: 416)
        }
        var progress: UploadProgress
        do {
            progress = try known ?? storage.rehashUpload(id)
        } catch {
            await uploads.checkIn(id, nil)
            throw error
        }
        do {
            let result = try await body(&progress)
            await uploads.checkIn(id, progress)
            return result
        } catch {
            await uploads.checkIn(id, storage.uploadExists(name, id) ? progress : nil)
            throw error
        }
    }

    /// A chunk must start where the upload stands (`Content-Range: START-END`); 416 otherwise.
    private func checkContentRange(_ request: Request, progress: UploadProgress, name: String, id: String) throws {
        guard let header = request.headers[.contentRangeHeader] else { return }
        var text = Substring(header)
        if text.hasPrefix("bytes ") { text = text.dropFirst(6) }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        var valid = false
        if bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), start == progress.size, end >= start - 1 {
            valid = true
            if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length != end - start + 1 { valid = false }
        }
        guard valid else {
            var failure = RegistryFailure(
                .blobUploadInvalid, "chunk \(header) does not continue the upload at offset \(progress.size)", status: 416)
            failure.headers = [
                ("Location", "/v2/\(name)/blobs/uploads/\(id)"), ("Range", Self.rangeValue(progress.size)),
                (RegistryHeader.uploadUUID, id),
            ]
            throw failure
        }
    }

    private func verifyAndCommit(_ id: String, name: String, progress: UploadProgress, expected: Digest, text: String) throws {
        let actual = progress.hasher.finalize()
        guard actual == expected else {
            throw RegistryFailure(.digestInvalid, "content digest \(actual) does not match \(expected)",
                                  detail: RegistryFailure.digestDetail(text))
        }
        try storage.commitUpload(id, name: name, digest: expected)
    }

    private func blobCreated(name: String, digest: Digest) -> Response {
        Response(status: .created, headers: [
            .location: "/v2/\(name)/blobs/\(digest)", .dockerContentDigest: digest.description, .contentLength: "0",
        ])
    }

    private func uploadAccepted(_ status: HTTPResponse.Status, name: String, id: String, size: Int64) -> Response {
        Response(status: status, headers: [
            .location: "/v2/\(name)/blobs/uploads/\(id)", .rangeHeader: Self.rangeValue(size), .dockerUploadUUID: id,
            .contentLength: "0",
        ])
    }

    /// The Range header of an upload: the bytes received, inclusive (`0-0` before any byte,
    /// as distribution answers).
    static func rangeValue(_ size: Int64) -> String { "0-\(max(size - 1, 0))" }
}
