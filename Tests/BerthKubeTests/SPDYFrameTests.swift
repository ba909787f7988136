@testable import BerthKube
import Testing

@Suite struct SPDYFrameTests {
    /// Both directions of a session: what one side encodes, the other decodes, frame by frame,
    /// with the header compression state carried from block to block.
    @Test func framesRoundTripThroughOneSession() throws {
        let encoder = try SPDYFrameEncoder()
        let decoder = try SPDYFrameDecoder()
        let frames: [SPDYFrame] = [
            .synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0,
                       headers: SPDYHeaderBlock([("streamType", "error"), ("port", "8080"), ("requestID", "0")])),
            .synReply(streamID: 1, flags: 0, headers: SPDYHeaderBlock()),
            .synStream(streamID: 3, associatedTo: 0, priority: 7, flags: SPDYFrame.flagFin,
                       headers: SPDYHeaderBlock([("streamType", "data"), ("port", "8080"), ("requestID", "0")])),
            .data(streamID: 3, flags: 0, payload: Array("hello".utf8)),
            .data(streamID: 3, flags: SPDYFrame.flagFin, payload: []),
            .headers(streamID: 3, flags: 0, headers: SPDYHeaderBlock([("x", "a\0b")])),
            .rstStream(streamID: 3, status: SPDYStatus.cancel),
            .settings(flags: 0, entries: [SPDYSetting(flags: 0, id: SPDYSetting.initialWindowSize, value: 1 << 20)]),
            .ping(id: 1),
            .windowUpdate(streamID: 0, delta: 65536),
            .goAway(lastGoodStreamID: 3, status: 0),
        ]
        var wire: [UInt8] = []
        for frame in frames { wire += try encoder.encode(frame) }
        // Arrives in odd-sized pieces, as TCP may split it.
        var decoded: [SPDYFrame] = []
        var offset = 0
        while offset < wire.count {
            let end = min(wire.count, offset + 7)
            decoder.append(wire[offset..<end])
            offset = end
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        #expect(decoded == frames)
    }

    /// The wire layout of the frames Kubernetes' peers parse field by field (draft 3.1 §2.2, §2.6).
    @Test func controlAndDataFrameLayout() throws {
        let encoder = try SPDYFrameEncoder()
        #expect(try encoder.encode(.ping(id: 5)) == [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 5])
        #expect(try encoder.encode(.rstStream(streamID: 7, status: 5)) == [0x80, 0x03, 0x00, 0x03, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 5])
        #expect(try encoder.encode(.data(streamID: 3, flags: SPDYFrame.flagFin, payload: [0xaa])) == [0, 0, 0, 3, 0x01, 0, 0, 1, 0xaa])
        #expect(try encoder.encode(.windowUpdate(streamID: 1, delta: 0x8000_0010)) == [0x80, 0x03, 0x00, 0x09, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x10])
        let reply = try encoder.encode(.synReply(streamID: 9, flags: 0, headers: SPDYHeaderBlock()))
        #expect(Array(reply[0..<4]) == [0x80, 0x03, 0x00, 0x02])
        #expect(Int(reply[5]) << 16 | Int(reply[6]) << 8 | Int(reply[7]) == reply.count - 8)
        // A zlib stream with a preset dictionary: FDICT set, then the dictionary's Adler-32.
        #expect(Array(reply[12..<18]) == [0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2])
    }

    /// A header block compressed by another zlib user (Python's `zlib.compressobj(zdict=…)` with
    /// the SPDY/3 dictionary, sync flush), as a SYN_STREAM from a client carries it.
    @Test func decompressesAnotherImplementationsHeaderBlock() throws {
        let compressed: [UInt8] = [0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0xa6, 0x23, 0x46, 0x70, 0x3a, 0x2b, 0x29, 0x4a, 0x4d,
                                   0xcc, 0x45, 0x2a, 0x4a, 0x12, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff]
        let decoder = try SPDYFrameDecoder()
        var frame: [UInt8] = [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, UInt8(10 + compressed.count), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        frame += compressed
        decoder.append(frame)
        let decoded = try decoder.next()
        guard case .synStream(let id, _, _, _, let headers) = decoded else {
            Issue.record("not a SYN_STREAM: \(String(describing: decoded))")
            return
        }
        #expect(id == 1)
        #expect(headers["streamType"] == "data")
    }

    @Test func unknownControlFramesAreSkippedAndWrongVersionsRefused() throws {
        let decoder = try SPDYFrameDecoder()
        decoder.append([0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 0xde, 0xad] + [0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 3])
        #expect(try decoder.next() == .ping(id: 3))
        let old = try SPDYFrameDecoder()
        old.append([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 3])
        #expect(throws: SPDYError.self) { try old.next() }
    }

    @Test func headerLookupIsCaseInsensitiveAndNamesGoLowerCase() {
        let block = SPDYHeaderBlock([("StreamType", "data"), ("Port", "80")])
        #expect(block.fields.map(\.name) == ["streamtype", "port"])
        #expect(block["streamtype"] == "data")
        #expect(block["PORT"] == "80")
        #expect(block["requestID"] == nil)
    }

    /// The inbox holds its writer back once its limit is queued, and lets it go as the reader drains.
    @Test func inboxAppliesBackpressure() async {
        let inbox = SPDYInbox(limit: 4)
        await inbox.push([1, 2])
        let writer = Task {
            await inbox.push([3, 4, 5])
            await inbox.push([6])
            inbox.finish()
        }
        var read: [UInt8] = []
        while let chunk = await inbox.next() { read += chunk }
        await writer.value
        #expect(read == [1, 2, 3, 4, 5, 6])
    }
}
