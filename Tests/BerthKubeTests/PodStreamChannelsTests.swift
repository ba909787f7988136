import BerthKube
import BerthKubeAPI
import Foundation
import Testing

/// The WebSocket channel protocols of exec and attach: negotiation, the framing of each
/// message, and what the error channel carries at the end.
struct PodStreamChannelsTests {
    @Test func negotiationTakesTheClientsFirstServedProtocol() {
        // kubectl 1.32 offers v5 only; the Python client v5 then v4 in one header; older clients v4.
        #expect(KubeChannelProtocol.negotiate(["v5.channel.k8s.io"]) == .v5)
        #expect(KubeChannelProtocol.negotiate(["v5.channel.k8s.io,v4.channel.k8s.io"]) == .v5)
        #expect(KubeChannelProtocol.negotiate(["v4.channel.k8s.io"]) == .v4)
        #expect(KubeChannelProtocol.negotiate(["v9.channel.k8s.io, base64.channel.k8s.io"]) == .v1Base64)
        #expect(KubeChannelProtocol.negotiate(["v4.base64.channel.k8s.io", "v4.channel.k8s.io"]) == .v4Base64)
        // No subprotocol: v1's binary framing; only unknown ones: refused.
        #expect(KubeChannelProtocol.negotiate([]) == .unnamed)
        #expect(KubeChannelProtocol.negotiate(["v9.channel.k8s.io"]) == nil)
        #expect(KubeChannelProtocol.negotiate(["SPDY/3.1+portforward.k8s.io"]) == nil)
    }

    @Test func binaryMessagesStartWithTheirChannel() {
        #expect(KubeChannelFraming.encode(channel: 1, Array("out".utf8), protocol: .v5) == [1] + Array("out".utf8))
        #expect(KubeChannelFraming.decode([0] + Array("in".utf8), protocol: .v4) == .data(channel: 0, Array("in".utf8)))
        #expect(KubeChannelFraming.decode([4] + Array(#"{"Width":91,"Height":33}"#.utf8), protocol: .v5)
            == .data(channel: 4, Array(#"{"Width":91,"Height":33}"#.utf8)))
        #expect(KubeChannelFraming.decode([], protocol: .v5) == nil)
    }

    @Test func closeSignalIsV5Only() {
        #expect(KubeChannelFraming.decode([255, 0], protocol: .v5) == .close(channel: 0))
        #expect(KubeChannelFraming.decode([255], protocol: .v5) == nil)
        // Before v5, 255 is just an unknown channel's data.
        #expect(KubeChannelFraming.decode([255, 0], protocol: .v4) == .data(channel: 255, [0]))
    }

    @Test func base64MessagesAreTextWithADigitChannel() {
        #expect(String(decoding: KubeChannelFraming.encode(channel: 2, Array("err\n".utf8), protocol: .v4Base64), as: UTF8.self) == "2ZXJyCg==")
        #expect(KubeChannelFraming.decode(Array("0aGk=".utf8), protocol: .v1Base64) == .data(channel: 0, Array("hi".utf8)))
        #expect(KubeChannelFraming.decode(Array("0not base64!".utf8), protocol: .v1Base64) == nil)
        #expect(KubeChannelFraming.decode(Array("xaGk=".utf8), protocol: .v1Base64) == nil)
    }

    @Test func resizePayloadIsTheTerminalsSize() {
        #expect(KubeChannelFraming.terminalSize(Array(#"{"Width":91,"Height":33}"#.utf8)) == KubeTerminalSize(width: 91, height: 33))
        #expect(KubeChannelFraming.terminalSize(Array("91x33".utf8)) == nil)
    }

    /// kubectl reads the exit code from the NonZeroExitCode Status's ExitCode cause (key `reason`).
    @Test func errorChannelCarriesTheStatusFromV4On() throws {
        let success = try #require(KubeChannelFraming.errorMessage(.success, protocol: .v5))
        #expect(String(decoding: success, as: UTF8.self) == #"{"metadata":{},"status":"Success"}"#)
        let failed = try #require(KubeChannelFraming.errorMessage(.exitCode(3, command: ["sh", "-c", "exit 3"]), protocol: .v4))
        #expect(String(decoding: failed, as: UTF8.self) == #"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#)
        let internalError = try #require(KubeChannelFraming.errorMessage(.failure("boom"), protocol: .v5))
        let status = try #require(try JSONSerialization.jsonObject(with: Data(internalError)) as? [String: Any])
        #expect(status["reason"] as? String == "InternalError")
        #expect(status["code"] as? Int == 500)
        // Before v4 the channel carries a failure's text, and nothing on success.
        #expect(KubeChannelFraming.errorMessage(.success, protocol: .v1) == nil)
        #expect(KubeChannelFraming.errorMessage(.failure("boom"), protocol: .unnamed).map { String(decoding: $0, as: UTF8.self) }
            == "Internal error occurred: boom")
    }

    @Test func streamPathsAndTheirQuery() throws {
        let path = try #require(KubePodStreamPath(path: "/api/v1/namespaces/ns1/pods/web-0/exec"))
        #expect(path == KubePodStreamPath(path: "/api/v1/namespaces/ns1/pods/web-0/exec"))
        #expect(path.namespace == "ns1" && path.pod == "web-0" && path.subresource == .exec)
        #expect(KubePodStreamPath(path: "/api/v1/namespaces/ns1/pods/web-0/attach")?.subresource == .attach)
        #expect(KubePodStreamPath(path: "/api/v1/namespaces/ns1/pods/web-0/log") == nil)
        #expect(KubePodStreamPath(path: "/api/v1/namespaces/ns1/pods/web-0") == nil)

        // Go's url.Values writes spaces as `+`.
        let request = KubeRequest(method: "GET", uri: "/api/v1/namespaces/ns1/pods/web-0/exec?command=sh&command=-c&command=echo+hi%2Bthere&container=c&stdin=true&stdout=1&tty=true",
                                  headers: [:], body: [], user: nil)
        let stream = try request.podStreamRequest(path)
        #expect(stream.command == ["sh", "-c", "echo hi+there"])
        #expect(stream.container == "c")
        #expect(stream.stdin && stream.stdout && !stream.stderr && stream.tty)

        let none = KubeRequest(method: "GET", uri: "/api/v1/namespaces/ns1/pods/web-0/exec?command=true", headers: [:], body: [], user: nil)
        #expect(throws: KubeAPIError.badRequest("you must specify at least 1 of stdin, stdout, stderr")) { try none.podStreamRequest(path) }
    }
}
